import { installedSnapshot } from './trace-rules.ts';
import type { ScenarioDef } from './scenario.ts';

const PUTS = 200;
const key = (i: number) => `snap${i}`;
const value = (i: number) => `value${i}`;

/**
 * Raft §7's catch-up path: a follower is down while the others snapshot and compact
 * their logs past everything it holds, so when it returns the leader can only send it
 * the snapshot. It must install it, apply the rest, and count in a majority afterwards.
 */
export const scenario: ScenarioDef = {
  id: 15,
  name: '15-snapshot-install',
  summary: 'A follower is down while the others compact past its log; it returns, installs the leader\'s snapshot, and with it a majority serves every value.',
  size: 5,
  // Snapshots every 50 entries, keeping 10: the 200 writes compact the log several times.
  config: { compaction: { snapshotCount: 50, catchUpEntries: 10 } },
  traceRules: [installedSnapshot()],
  async run(ctx) {
    await ctx.start(...ctx.ids);
    const leader = await ctx.leader();
    const victim = ctx.ids.find((id) => id !== leader)!;
    const writer = await ctx.client('client0', ctx.ids.find((id) => id !== victim && id !== leader)!);
    await writer.put('before', 'down');
    const held = await ctx.cluster.waitFor(victim, (s) => s.lastLogIndex > 0, 10_000, `${victim} to hold the first write`);
    await ctx.kill(victim);

    ctx.step(`${PUTS} puts while ${victim} is down`);
    let acked = 0;
    for (let i = 0; i < PUTS; i += 20) {
      const batch = await Promise.all(Array.from({ length: Math.min(20, PUTS - i) }, (_, k) => writer.put(key(i + k), value(i + k))));
      acked += batch.filter((a) => !a.error).length;
    }
    ctx.expect(`all ${PUTS} puts acknowledged`, acked === PUTS, `${acked} acknowledged`);
    const others = ctx.ids.filter((id) => id !== victim);
    const statuses = (await ctx.cluster.statuses()).filter((s) => others.includes(s.serverId));
    const compactedPast = statuses.filter((s) => s.firstLogIndex > held.lastLogIndex + 1);
    ctx.expect(
      `the others compacted their logs past ${victim}'s last entry (${held.lastLogIndex})`,
      compactedPast.length === others.length,
      statuses.map((s) => `${s.serverId}: snapshot ${s.snapshotIndex}, log from ${s.firstLogIndex}`).join(', '),
    );

    const target = Math.max(...statuses.map((s) => s.commitIndex));
    await ctx.start(victim);
    const caughtUp = await ctx.cluster.waitFor(victim, (s) => s.appliedIndex >= target, 20_000, `${victim} to apply up to ${target}`);
    ctx.expect(`${victim} restored a snapshot and applied up to ${target}`, caughtUp.snapshotIndex > held.lastLogIndex, `snapshot ${caughtUp.snapshotIndex}, applied ${caughtUp.appliedIndex}`);

    // Leave a bare majority that needs the returned follower: its state is now load-bearing.
    const current = await ctx.leader();
    const spare = others.find((id) => id !== current)!;
    await ctx.kill(current, spare);
    await ctx.leader(ctx.ids.filter((id) => id !== current && id !== spare), 20_000);
    const reader = await ctx.client('client1', victim, { only: true });
    const wrong: string[] = [];
    for (let i = 0; i < PUTS; i += 50) {
      const keys = Array.from({ length: Math.min(50, PUTS - i) }, (_, k) => key(i + k));
      const got = await reader.execute({ type: 'mget', keys });
      keys.forEach((k, j) => {
        if (got.outcome.values?.[j] !== value(i + j)) wrong.push(`${k}=${JSON.stringify(got.outcome.values?.[j] ?? got.error ?? got.outcome.error)}`);
      });
    }
    ctx.expect(`a client on ${victim} reads all ${PUTS} values with ${current} and ${spare} down`, wrong.length === 0, wrong.slice(0, 5).join(', ') || `${PUTS} values read`);
  },
};
