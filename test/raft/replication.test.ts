import { describe, expect, it } from 'vitest';
import { SimCluster } from '../sim/cluster.ts';
import { seeds, withSeed } from '../sim/seed.ts';

describe('log replication', () => {
  it('basic agreement: every command reaches every node at the same index', () => {
    for (const seed of seeds(1000, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 5 });
        c.waitForLeader();
        let last = 0;
        for (let i = 1; i <= 20; i++) {
          const index = c.one(`k${i}=v${i}`, 5);
          expect(index).toBeGreaterThan(last);
          last = index;
        }
        for (const id of c.ids) expect(c.nodes.get(id)!.durable.kv.get('k20')).toBe('v20');
      });
    }
  });

  it('agreement with a failed follower, which catches up when it returns', () => {
    for (const seed of seeds(1100, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 3 });
        const leader = c.waitForLeader();
        c.one('a=1', 3);
        const follower = c.ids.find((id) => id !== leader)!;
        c.crash(follower);
        c.one('b=2', 2);
        c.one('c=3', 2);
        c.restart(follower);
        const idx = c.one('d=4', 3);
        c.runUntil(() => c.nodes.get(follower)!.durable.appliedIndex >= idx, 2_000, 'the follower to catch up');
        expect([...c.nodes.get(follower)!.durable.kv.entries()].sort()).toEqual([
          ['a', '1'],
          ['b', '2'],
          ['c', '3'],
          ['d', '4'],
        ]);
      });
    }
  });

  it('no commit without a quorum: 3 of 5 down', () => {
    for (const seed of seeds(1200, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 5 });
        const leader = c.waitForLeader();
        const before = c.one('x=1', 5);
        const others = c.ids.filter((id) => id !== leader);
        for (const id of others.slice(0, 3)) c.crash(id);
        const p = c.raft(leader).propose([{ data: 'x=2' }]);
        expect(p.ok).toBe(true);
        c.run(2_000);
        expect(c.nCommitted(before + 1).count).toBe(0);
        for (const id of others.slice(0, 3)) c.restart(id);
        // The entry may commit or be replaced, but agreement resumes.
        c.one('x=3', 5);
      });
    }
  });

  it('concurrent proposals all commit, once each, in one order everywhere', () => {
    for (const seed of seeds(1300, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 3 });
        const leader = c.waitForLeader();
        const indexes: number[] = [];
        for (let i = 0; i < 50; i++) {
          const r = c.raft(leader).propose([{ data: `c${i}=${i}` }]);
          if (r.ok) indexes.push(r.index);
        }
        expect(indexes.length).toBe(50);
        expect(new Set(indexes).size).toBe(50);
        c.runUntil(() => indexes.every((i) => c.nCommitted(i).count === 3), 2_000, 'all proposals to commit');
        for (let i = 0; i < 50; i++) expect(c.nCommitted(indexes[i]).data).toBe(`c${i}=${i}`);
      });
    }
  });

  it('rejoin of a partitioned ex-leader that holds uncommitted entries', () => {
    for (const seed of seeds(1400, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 3 });
        const old = c.waitForLeader();
        c.one('a=1', 3);
        c.isolate(old);
        for (let i = 0; i < 3; i++) c.raft(old).propose([{ data: `stale${i}=x` }]);
        const next = c.waitForLeader();
        expect(next).not.toBe(old);
        c.one('b=2', 2);
        c.reconnect(old);
        const idx = c.one('c=3', 3);
        c.runUntil(() => c.nodes.get(old)!.durable.appliedIndex >= idx, 2_000, 'the ex-leader to catch up');
        const kv = c.nodes.get(old)!.durable.kv;
        expect(kv.get('b')).toBe('2');
        expect([...kv.keys()].some((k) => k.startsWith('stale'))).toBe(false);
      });
    }
  });

  it('backs up over 50+ conflicting entries in a few round trips', () => {
    for (const seed of seeds(1500, 3)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 5 });
        const l1 = c.waitForLeader();
        c.one('base=0', 5);
        const others = c.ids.filter((id) => id !== l1);
        // Leader and one follower form a minority that logs 60 entries that never commit.
        c.net.partition([[l1, others[0]], others.slice(1)]);
        for (let i = 0; i < 60; i++) c.raft(l1).propose([{ data: `lost${i}=x` }]);
        c.run(50);
        // The majority moves on with 60 entries of its own in a newer term.
        const l2 = c.waitForLeader();
        expect(others.slice(1)).toContain(l2);
        for (let i = 0; i < 60; i++) c.raft(l2).propose([{ data: `kept${i}=y` }]);
        c.run(500);
        c.crash(l1);
        const sentBefore = c.sent.get('AppendEntries') ?? 0;
        const rejectsBefore = c.sent.get('AppendEntriesRes') ?? 0;
        c.net.heal();
        const last = c.raft(l2).status().lastIndex;
        c.runUntil(() => c.nodes.get(others[0])!.durable.appliedIndex >= last, 3_000, 'the divergent follower to converge');
        // Fast backtracking skips a whole term per round trip, not one entry.
        const appends = (c.sent.get('AppendEntries') ?? 0) - sentBefore;
        const replies = (c.sent.get('AppendEntriesRes') ?? 0) - rejectsBefore;
        // One probe is rejected with the conflicting term, the next one carries the fix;
        // a few heartbeats may interleave. One-entry-at-a-time backup would need 60+.
        expect(replies).toBeLessThanOrEqual(10);
        expect(appends).toBeLessThanOrEqual(10);
        expect(c.nodes.get(others[0])!.durable.kv.get('kept59')).toBe('y');
        expect(c.nodes.get(others[0])!.durable.kv.has('lost0')).toBe(false);
      });
    }
  });

  it('message-count bounds: an election uses few messages, an idle second few heartbeats', () => {
    const c = new SimCluster({ seed: 42, size: 3 });
    c.waitForLeader();
    const atElection = c.messageCount();
    // Pre-vote, vote and the first append round on 3 nodes: a dozen or so.
    expect(atElection).toBeLessThan(20);
    c.run(1_000);
    const before = c.messageCount();
    c.run(1_000);
    // One heartbeat and one reply per follower per tick (10 ms): 2 * 2 * 100.
    const idle = c.messageCount() - before;
    expect(idle).toBeLessThanOrEqual(2 * 2 * 101);
    const n = 10;
    const before2 = c.messageCount();
    for (let i = 0; i < n; i++) c.one(`m${i}=v`, 3);
    // Agreement costs at most a few messages per command on top of heartbeats.
    expect(c.messageCount() - before2).toBeLessThan(n * 40);
  });
});
