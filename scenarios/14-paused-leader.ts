import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 14,
  name: '14-paused-leader',
  summary: 'Pause the leader (SIGSTOP): the others elect a new one and keep writing; resumed, the old leader steps down and catches up.',
  size: 5,
  async run(ctx) {
    await ctx.start(...ctx.ids);
    const old = await ctx.leader();
    const rest = ctx.ids.filter((id) => id !== old);
    const c = await ctx.client('client0', rest[0]);
    await c.put('k', 'before');
    ctx.step(`pause ${old}`);
    ctx.cluster.pause(old);
    const put = await c.put('k', 'during');
    ctx.expect('writes continue while the leader is paused', !put.error, put.error ?? 'ok');
    const next = await ctx.leader(rest);
    ctx.step(`resume ${old}`);
    ctx.cluster.resume(old);
    const commit = (await ctx.cluster.status(next)).commitIndex;
    const st = await ctx.cluster.waitFor(old, (s) => s.role === 'follower' && s.appliedIndex >= commit, 10_000, `${old} to step down and catch up`);
    ctx.expect('the resumed ex-leader follows the new leader', st.leaderId !== old, `${old} follows ${st.leaderId}`);
    const get = await c.get('k');
    ctx.expect('the value written during the pause is read', get.outcome.value === 'during', `Get(k) = "${get.outcome.value}"`);
  },
};
