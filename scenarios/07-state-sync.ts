import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 7,
  name: '07-state-sync',
  summary: '4 of 7 up, put k1=v1; start the other 3; a new client on a new server reads v1.',
  size: 7,
  async run(ctx) {
    const first = ctx.ids.slice(0, 4);
    const late = ctx.ids.slice(4);
    await ctx.start(...first);
    await ctx.leader();
    const a = await ctx.client('client0', first[0]);
    const put = await a.put('k1', 'v1');
    ctx.expect('the Put succeeded', !put.error, put.error ?? 'ok');
    await ctx.start(...late);
    const b = await ctx.client('client1', late[2]);
    const get = await b.get('k1');
    ctx.expect('the new client on a new server reads v1', get.outcome.value === 'v1', `Get(k1) = "${get.outcome.value}"`);
    const leader = await ctx.leader();
    const commit = (await ctx.cluster.status(leader)).commitIndex;
    for (const id of late) await ctx.cluster.waitFor(id, (s) => s.appliedIndex >= commit, 10_000, `${id} to catch up`);
    ctx.expect('the late servers applied the log', true, `all reached index ${commit}`);
  },
};
