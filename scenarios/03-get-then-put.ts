import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 3,
  name: '03-get-then-put',
  summary: ' 4 of 7 up: one client gets k2 (never written: empty) and then puts k2=v2; the Get has the smaller OpId.'.trim(),
  size: 7,
  async run(ctx) {
    const up = ctx.ids.slice(0, 4);
    await ctx.start(...up);
    await ctx.leader();
    const c = await ctx.client('client0', up[3]);
    const get = await c.get('k2');
    const put = await c.put('k2', 'v2');
    ctx.expect('the Get returns the empty value', get.outcome.value === '' && !get.error, `Get(k2) = "${get.outcome.value}"${get.error ? ` error ${get.error}` : ''}`);
    ctx.expect('the Get has a smaller OpId than the Put', get.outcome.opId < put.outcome.opId, `get ${get.outcome.opId}, put ${put.outcome.opId}`);
    ctx.expect('the Put succeeded', !put.error, put.error ?? 'ok');
  },
};
