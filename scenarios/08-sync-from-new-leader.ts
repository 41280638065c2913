import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 8,
  name: '08-sync-from-new-leader',
  summary: '4 of 7 up, put k1=v1; start a 5th; kill the leader; after re-election start the rest; a client on the last one reads v1.',
  size: 7,
  async run(ctx) {
    const first = ctx.ids.slice(0, 4);
    await ctx.start(...first);
    const leader = await ctx.leader();
    const a = await ctx.client('client0', first.find((id) => id !== leader)!);
    const put = await a.put('k1', 'v1');
    ctx.expect('the Put succeeded', !put.error, put.error ?? 'ok');
    await ctx.start(ctx.ids[4]);
    await ctx.kill(leader);
    const alive = [...first.filter((id) => id !== leader), ctx.ids[4]];
    const next = await ctx.leader(alive);
    ctx.step(`re-elected: ${next}`);
    await ctx.start(ctx.ids[5], ctx.ids[6]);
    const b = await ctx.client('client1', ctx.ids[6]);
    const get = await b.get('k1');
    ctx.expect('the client on the last server reads v1', get.outcome.value === 'v1', `Get(k1) = "${get.outcome.value}"`);
  },
};
