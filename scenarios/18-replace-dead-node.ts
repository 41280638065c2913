import { finalConfiguration } from './trace-rules.ts';
import type { ScenarioDef } from './scenario.ts';

/**
 * A machine lost for good (kill -9 and its data deleted): the operator removes it from
 * the configuration and adds a fresh server with a new id in its place (Raft §6), which
 * catches up from the leader. Every acknowledged write is still there, on the newcomer too.
 */
export const scenario: ScenarioDef = {
  id: 18,
  name: '18-replace-dead-node',
  summary: 'A server is lost with its data; it is removed, a fresh server with a new id joins in its place, and every acknowledged write reads back from it.',
  size: 3,
  traceRules: [finalConfiguration(3)],
  async run(ctx) {
    await ctx.start(...ctx.ids);
    const leader = await ctx.leader();
    const lost = ctx.ids.find((id) => id !== leader)!;
    const c = await ctx.client('client0', leader);
    const acked = new Map<string, string>();
    const write = async (from: number, count: number) => {
      for (let i = from; i < from + count; i++) if (!(await c.put(`k${i}`, `v${i}`)).error) acked.set(`k${i}`, `v${i}`);
    };
    await write(0, 50);
    await ctx.kill(lost);
    ctx.step(`${lost}'s machine is gone: its data directory is deleted`);
    ctx.deleteData(lost);
    await write(50, 25);

    const removed = await ctx.cluster.adminOf(await ctx.leader()).memberRemove(lost);
    ctx.expect(`${lost} removed from the configuration`, removed.ok, removed.error || removed.members!.members.map((m) => m.id).join(', '));
    const joined = await ctx.join('server3');
    ctx.expect('server3 joined in its place and was promoted', joined.ok && joined.members?.members.some((m) => m.id === 'server3' && !m.learner) === true, joined.error || 'ok');
    await write(75, 25);

    // The newcomer must hold everything: with the old leader gone it is needed for a majority.
    const current = await ctx.leader();
    if (current !== 'server3') {
      await ctx.kill(current);
      await ctx.leader(ctx.cluster.ids.filter((id) => id !== current && id !== lost), 20_000);
    }
    const reader = await ctx.client('client1', 'server3', { only: true });
    const keys = [...acked.keys()];
    const got = await reader.execute({ type: 'mget', keys });
    const wrong = keys.filter((k, i) => got.outcome.values?.[i] !== acked.get(k));
    ctx.expect(`all ${keys.length} acknowledged writes read back through server3`, wrong.length === 0 && !got.error, got.error ?? (wrong.slice(0, 5).join(', ') || `${keys.length} values`));
  },
};
