import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 2,
  name: '02-put-then-get',
  summary: "4 of 7 up: client A puts k1=v1 then gets it; a second client B gets k1 too. Both read v1, A's Get after its Put.",
  size: 7,
  async run(ctx) {
    const up = ctx.ids.slice(0, 4);
    await ctx.start(...up);
    await ctx.leader();
    const a = await ctx.client('clientA', up[1]);
    const put = await a.put('k1', 'v1');
    const get = await a.get('k1');
    ctx.expect("A's Get returns v1", get.outcome.value === 'v1', `Get(k1) = "${get.outcome.value}"`);
    ctx.expect("A's Get has a larger OpId than its Put", get.outcome.opId > put.outcome.opId, `put ${put.outcome.opId}, get ${get.outcome.opId}`);
    const b = await ctx.client('clientB', up[2]);
    const getB = await b.get('k1');
    ctx.expect("B's Get returns v1", getB.outcome.value === 'v1', `Get(k1) = "${getB.outcome.value}"`);
  },
};
