import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/types.ts';
import { SimCluster } from '../sim/cluster.ts';
import { itSeeded } from '../sim/seed.ts';

describe('log replication', () => {
  itSeeded('basic agreement: every command reaches every node at the same index', 1000, 5, (seed) => {
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

  itSeeded('agreement with a failed follower, which catches up when it returns', 1100, 5, (seed) => {
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

  itSeeded('no commit without a quorum: 3 of 5 down', 1200, 5, (seed) => {
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

  itSeeded('concurrent proposals all commit, once each, in one order everywhere', 1300, 5, (seed) => {
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

  itSeeded('rejoin of a partitioned ex-leader that holds uncommitted entries', 1400, 5, (seed) => {
    const c = new SimCluster({ seed, size: 3 });
    const old = c.waitForLeader();
    c.one('a=1', 3);
    c.isolate(old);
    for (let i = 0; i < 3; i++) c.raft(old).propose([{ data: `stale${i}=x` }]);
    const stale = c.raft(old).log.lastIndex();
    const held = () => c.nodes.get(old)!.durable.entries;
    c.runUntil(() => held().length >= stale, 100, 'the ex-leader to persist its stale entries');
    expect(held()[stale - 1].data).toBe('stale2=x');
    const next = c.waitForLeader();
    expect(next).not.toBe(old);
    c.one('b=2', 2);
    c.reconnect(old);
    const idx = c.one('c=3', 3);
    c.runUntil(() => c.nodes.get(old)!.durable.appliedIndex >= idx, 2_000, 'the ex-leader to catch up');
    // Its uncommitted entries were replaced, not merely left unapplied.
    expect(c.nodes.get(old)!.durable.entries[stale - 1].data).not.toMatch(/^stale/);
    const kv = c.nodes.get(old)!.durable.kv;
    expect(kv.get('b')).toBe('2');
    expect([...kv.keys()].some((k) => k.startsWith('stale'))).toBe(false);
  });

  itSeeded('backs up over 50+ conflicting entries in a few round trips', 1500, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5 });
    const l1 = c.waitForLeader();
    c.one('base=0', 5);
    const [f, x, y, z] = c.ids.filter((id) => id !== l1);
    // l1 and f form a minority that logs 60 entries that never commit.
    c.net.partition([[l1, f], [x, y, z]]);
    for (let i = 0; i < 60; i++) c.raft(l1).propose([{ data: `lost${i}=x` }]);
    const lostTo = c.raft(l1).log.lastIndex();
    c.runUntil(() => c.raft(f).log.lastIndex() >= lostTo, 1_000, 'f to hold the 60 lost entries');
    // The majority moves on with 60 entries of its own in a newer term.
    const l2 = c.waitForLeader();
    expect([x, y, z]).toContain(l2);
    let kept = 0;
    for (let i = 0; i < 60; i++) kept = c.one(`kept${i}=y`, 3);
    // Now l1 is gone and l2 cut off: the two others need f's vote, so whichever wins
    // leads with the 60 kept entries in its log, and its first probe to f lands past
    // the point where f's log diverged, not on the shared prefix.
    c.crash(l1);
    const [p, q] = [x, y, z].filter((id) => id !== l2);
    c.net.partition([[f, p, q], [l2]]);
    const log: Message[] = [];
    c.watch((m) => {
      if ((m.type === 'AppendEntries' && m.to === f) || (m.type === 'AppendEntriesRes' && m.from === f)) log.push(m);
    });
    c.runUntil(() => c.nodes.get(f)!.durable.appliedIndex >= kept, 3_000, 'the divergent follower to converge');
    const l3 = c.stableLeader()!;
    expect([p, q]).toContain(l3);
    // Between the new leader and f (l2, cut off, may still be sending heartbeats nobody gets).
    const toF = log.flatMap((m) => (m.type === 'AppendEntries' && m.from === l3 ? [`${m.prevLogIndex}/${m.prevLogTerm}+${m.entries.length}`] : []));
    const rejections = log.filter((m) => m.type === 'AppendEntriesRes' && m.to === l3 && !m.success).length;
    // Fast backtracking skips a whole term per round trip: one rejection past f's end,
    // one naming f's conflicting term, then the fix. Heartbeats may interleave a few.
    // One-entry-at-a-time backup would need 60 of each.
    expect(rejections, `appends to f: ${toF.join(' ')}`).toBeGreaterThan(0);
    expect(rejections, `appends to f: ${toF.join(' ')}`).toBeLessThanOrEqual(6);
    expect(toF.length, `appends to f: ${toF.join(' ')}`).toBeLessThanOrEqual(12);
    expect(c.nodes.get(f)!.durable.kv.get('kept59')).toBe('y');
    expect(c.nodes.get(f)!.durable.kv.has('lost0')).toBe(false);
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
