import { finalConfiguration } from './trace-rules.ts';
import type { ScenarioDef } from './scenario.ts';

const JOINERS = ['server3', 'server4', 'server5', 'server6'];

/**
 * Raft §6 on real processes: a 3-server cluster grows to 7 while a client keeps writing,
 * each newcomer joining as a learner (it receives the log, or a snapshot) and promoted
 * to voter once caught up through joint consensus; then the first leader hands over its
 * leadership (TimeoutNow) and is removed. Nothing acknowledged is lost on the way.
 */
export const scenario: ScenarioDef = {
  id: 17,
  name: '17-live-join',
  summary: '3 servers start; a client keeps writing while 4 more join one by one (learner, then voter); the first leader transfers leadership and is removed; every write reads back from the newest server.',
  size: 3,
  config: { compaction: { snapshotCount: 200, catchUpEntries: 50 } },
  // 3 + 4 joined - 1 removed, and not left joint.
  traceRules: [finalConfiguration(6)],
  async run(ctx) {
    await ctx.start(...ctx.ids);
    const firstLeader = await ctx.leader();
    const writer = await ctx.client('client0', ctx.ids.find((id) => id !== firstLeader)!, { opTimeoutMs: 30_000 });
    const acked = new Map<string, string>();
    let writing = true;
    let n = 0;
    let failures = 0;
    const load = (async () => {
      while (writing && n < 5_000) {
        const key = `live${n}`;
        const value = `v${n++}`;
        const a = await writer.put(key, value);
        if (a.error) failures++;
        else acked.set(key, value);
      }
    })();

    for (const id of JOINERS) {
      const res = await ctx.join(id);
      ctx.expect(`${id} joined and was promoted to voter`, res.ok && res.members?.members.some((m) => m.id === id && !m.learner) === true, res.error || `${res.members?.members.length} members`);
    }
    const leader = await ctx.leader();
    ctx.step(`transfer leadership away from ${leader}, then remove it`);
    const transfer = await ctx.cluster.adminOf(leader).transferLeader('');
    ctx.expect(`${leader} handed over its leadership`, transfer.ok, transfer.error || `new leader ${transfer.leaderId}`);
    const next = await ctx.leader(ctx.cluster.ids.filter((id) => id !== leader));
    const removed = await ctx.cluster.adminOf(next).memberRemove(leader);
    ctx.expect(`${leader} removed`, removed.ok && !removed.members?.members.some((m) => m.id === leader), removed.error || removed.members!.members.map((m) => m.id).join(','));
    await ctx.cluster.exited(leader);
    ctx.step(`${leader} stopped itself`);

    writing = false;
    await load;
    ctx.expect('every write during the changes was acknowledged', failures === 0, `${acked.size} acknowledged, ${failures} failed`);
    const newest = JOINERS.at(-1)!;
    const reader = await ctx.client('client1', newest, { only: true });
    const wrong: string[] = [];
    const keys = [...acked.keys()];
    for (let i = 0; i < keys.length; i += 250) {
      const chunk = keys.slice(i, i + 250);
      const got = await reader.execute({ type: 'mget', keys: chunk });
      chunk.forEach((k, j) => {
        if (got.outcome.values?.[j] !== acked.get(k)) wrong.push(`${k}=${JSON.stringify(got.outcome.values?.[j] ?? got.error)}`);
      });
    }
    ctx.expect(`a client on ${newest} reads back all ${acked.size} acknowledged writes`, wrong.length === 0, wrong.slice(0, 5).join(', ') || `${acked.size} values read`);
  },
};
