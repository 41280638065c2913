import { neverApplied } from './trace-rules.ts';
import { sleep } from './harness.ts';
import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 12,
  name: '12-log-matching',
  summary: 'A leader cut off from the others logs entries it cannot commit; the majority elects a new leader and moves on; after healing the stale entries are overwritten.',
  size: 5,
  traceRules: [neverApplied('lonely')],
  async run(ctx) {
    await ctx.start(...ctx.ids);
    const old = await ctx.leader();
    const rest = ctx.ids.filter((id) => id !== old);
    const c = await ctx.client('client0', old);
    await c.put('shared', 'before');
    // A client that can only reach the old leader: its writes get logged there, never
    // committed. Connected before the cut, so its writes arrive well within the election
    // timeout after which the cut-off leader steps down (check-quorum) and logs no more.
    const lonely = await ctx.client('lonely', old, { attemptTimeoutMs: 300, opTimeoutMs: 900, only: true });
    ctx.step(`cut ${old} off from the others`);
    await ctx.cluster.partition([[old], rest]);
    const stale = await Promise.all([lonely.put('stale1', 'x'), lonely.put('stale2', 'x')]);
    ctx.expect('writes to the cut-off leader fail', stale.every((a) => !!a.error), stale.map((a) => a.error ?? 'succeeded').join('; '));
    await lonely.stop();
    const st = await ctx.cluster.status(old);
    ctx.expect('the ex-leader holds uncommitted entries', st.lastLogIndex > st.commitIndex, `last ${st.lastLogIndex}, commit ${st.commitIndex}`);
    const next = await ctx.leader(rest);
    const d = await ctx.client('client1', next);
    for (let i = 0; i < 3; i++) await d.put(`new${i}`, String(i));
    await ctx.cluster.heal();
    ctx.step('healed');
    const commit = (await ctx.cluster.status(next)).commitIndex;
    await ctx.cluster.waitFor(old, (s) => s.appliedIndex >= commit && s.leaderId === next, 10_000, `${old} to rejoin`);
    await sleep(200);
    const ghost = await d.get('stale1');
    ctx.expect('the stale entries were overwritten, never applied', ghost.outcome.value === '', `Get(stale1) = "${ghost.outcome.value}"`);
  },
};
