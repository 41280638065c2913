import { describe, expect } from 'vitest';
import { SimCluster } from '../sim/cluster.ts';
import { itSeeded } from '../sim/seed.ts';

/**
 * The two ways a ReadIndex implementation typically goes stale, each forced on the
 * simulated network rather than left to a lucky schedule.
 */
describe('ReadIndex safety', () => {
  // check-quorum off: the deposed leader keeps believing it leads for as long as the test
  // likes, so only the ReadIndex round itself can keep its reads fresh.
  itSeeded('a deposed leader cut off with one follower never serves a read the new majority has overtaken', 4100, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5, checkQuorum: false });
    const old = c.waitForLeader();
    c.one('k=1', 5);
    const [f, ...majority] = c.ids.filter((id) => id !== old);
    c.net.partition([[old, f], majority]);
    const next = c.waitForLeader();
    expect(majority).toContain(next);
    c.one('k=2', 3);
    expect(c.raft(old).status().role).toBe('leader');

    // f still follows the old leader and acknowledges its heartbeats: one answer of the
    // three it would need.
    let acksFromF = 0;
    c.watch((m) => {
      if (m.type === 'AppendEntriesRes' && m.from === f && m.to === old && m.readSeq > 0) acksFromF++;
    });
    c.read(old, 'stale', 'k');
    c.run(1_000);
    expect(acksFromF).toBeGreaterThan(0);
    expect(c.reads.get('stale')!.value, 'the deposed leader served a read').toBeUndefined();
    expect(c.raft(old).status().role).toBe('leader');

    // Healed, the old leader learns of the newer term: the read fails, and is retried at the new leader.
    c.net.heal();
    c.runUntil(() => c.reads.get('stale')!.error !== undefined || c.reads.get('stale')!.value !== undefined, 2_000, 'the read to be answered');
    expect(c.reads.get('stale')).toMatchObject({ error: expect.stringMatching(/leadership lost/) });
    expect(c.reads.get('stale')!.value).toBeUndefined();
    const leader = c.waitForLeader();
    c.read(leader, 'retry', 'k');
    c.runUntil(() => c.reads.get('retry')!.value !== undefined, 2_000, 'the retried read');
    expect(c.reads.get('retry')!.value).toBe('2');
  });

  itSeeded('a read right after an election, before the new leader commits its no-op, sees every acknowledged write', 4200, 8, (seed) => {
    const c = new SimCluster({ seed, size: 5 });
    const l1 = c.waitForLeader();
    c.one('k=1', 5);
    const [s1, s2, s3, s4] = c.ids.filter((id) => id !== l1);
    // s3 and s4 miss the next write; l1, s1 and s2 commit it, and l1 applies it (the client
    // is answered) and dies before s1 and s2 hear that it committed.
    c.isolate(s3);
    c.isolate(s4);
    const w = c.propose('k=2')!;
    expect(w.leader).toBe(l1);
    c.runUntil(() => c.nodes.get(l1)!.durable.appliedIndex >= w.index, 1_000, 'l1 to commit and apply k=2');
    expect(c.nodes.get(l1)!.durable.kv.get('k')).toBe('2');
    c.crash(l1);
    c.reconnect(s3);
    c.reconnect(s4);

    // Only s1 or s2 can win: s3 and s4 lack the entry. Read the moment one does.
    let l2: string | null = null;
    c.runUntil(
      () => {
        l2 = c.leaders().find((l) => l.id !== l1)?.id ?? null;
        return l2 !== null;
      },
      5_000,
      'a new leader',
    );
    expect([s1, s2]).toContain(l2);
    const r = c.raft(l2!);
    // The situation this test is about: the new leader holds k=2 but does not know it is
    // committed, and nothing of its own term is committed yet.
    expect(r.log.commitIndex).toBeLessThan(w.index);
    expect(r.log.lastIndex()).toBeGreaterThan(w.index);
    c.read(l2!, 'early', 'k');
    c.runUntil(() => c.reads.get('early')!.value !== undefined || c.reads.get('early')!.error !== undefined, 3_000, 'the read to be answered');
    // Nothing deposes the new leader here, so the read is served, and fresh.
    expect(c.reads.get('early')!.error).toBeUndefined();
    expect(c.reads.get('early')!.value, 'the new leader served a stale read').toBe('2');
  });
});
