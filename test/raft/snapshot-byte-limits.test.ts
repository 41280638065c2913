import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/raft/log.ts';
import { Raft, type RaftConfig } from '../../src/raft/raft.ts';
import { seededRng } from '../../src/raft/rng.ts';
import type { AppendEntries, AppendEntriesRes, Entry, Message, Ready, Snapshot } from '../../src/raft/types.ts';
import { SimCluster, type SimOptions } from '../sim/cluster.ts';
import { unreliable } from '../sim/network.ts';
import { durableLastIndex } from '../sim/node.ts';
import { itSeeded } from '../sim/seed.ts';

/**
 * Where byte-bounded replication and the leader's doubt of restarted followers (issue 13)
 * meet log compaction and InstallSnapshot: the byte-bounded slice starts after the
 * snapshot, pipelining stops when a snapshot is due, and a reply to a heartbeat that
 * checks nothing is no reason to doubt a follower.
 */

const ent = (index: number, term: number, size: number): Entry => ({ index, term, kind: 'command', data: 'x'.repeat(size) });
const run = (from: number, to: number, term: number, size: number): Entry[] => Array.from({ length: to - from + 1 }, (_, k) => ent(from + k, term, size));
const indexes = (es: Entry[]) => es.map((e) => e.index);

describe('RaftLog.sliceForMessage with a snapshot offset', () => {
  it('counts from firstIndex, bounds by count and bytes, and always carries the first entry', () => {
    // Each entry is 100 + 16 bytes by the default estimate.
    const log = new RaftLog(run(11, 20, 1, 100), 20, 20, { index: 10, term: 1 });
    expect(indexes(log.sliceForMessage(11, 100, 350).entries)).toEqual([11, 12, 13]);
    expect(log.sliceForMessage(11, 100, 350).bytes).toBe(3 * 116);
    expect(indexes(log.sliceForMessage(18, 100, 10_000).entries)).toEqual([18, 19, 20]);
    expect(indexes(log.sliceForMessage(12, 2, 10_000).entries)).toEqual([12, 13]);
    expect(indexes(log.sliceForMessage(15, 100, 1).entries)).toEqual([15]);
    expect(log.sliceForMessage(21, 100, 10_000)).toEqual({ entries: [], bytes: 0 });
  });

  it('refuses below firstIndex, as slice() does: the caller must send a snapshot', () => {
    const log = new RaftLog(run(11, 20, 1, 10), 20, 20, { index: 10, term: 1 });
    expect(() => log.sliceForMessage(10, 100, 10_000)).toThrow(/compacted/);
    expect(() => log.sliceForMessage(3, 100, 10_000)).toThrow(/compacted/);
  });

  it('keeps sizes with their entries through compact(), truncation and restore()', () => {
    const sizes = (e: Entry) => Number(e.data.slice(1));
    const mk = (index: number, term: number, size: number): Entry => ({ index, term, kind: 'command', data: `s${size}` });
    const log = new RaftLog([mk(1, 1, 10), mk(2, 1, 20), mk(3, 1, 30), mk(4, 1, 40), mk(5, 1, 50)], 3, 3, undefined, sizes);
    log.compact(2);
    expect(log.sliceForMessage(3, 100, 70)).toEqual({ entries: [mk(3, 1, 30), mk(4, 1, 40)], bytes: 70 });
    // A leader's entry 4 of term 2 replaces 4..5; its size is measured as it joins.
    log.mergeFromLeader([mk(4, 2, 400)]);
    expect(log.sliceForMessage(3, 100, 1_000)).toEqual({ entries: [mk(3, 1, 30), mk(4, 2, 400)], bytes: 430 });
    log.append([mk(5, 2, 5)]);
    expect(log.sliceForMessage(5, 100, 1_000).bytes).toBe(5);
    const snap: Snapshot = { index: 9, term: 2, data: new Uint8Array() };
    log.restore(snap);
    expect(log.sliceForMessage(10, 100, 1_000)).toEqual({ entries: [], bytes: 0 });
    log.append([mk(10, 2, 7), mk(11, 2, 8)]);
    expect(log.sliceForMessage(10, 100, 1_000)).toEqual({ entries: [mk(10, 2, 7), mk(11, 2, 8)], bytes: 15 });
  });
});

const peers = ['a', 'b', 'c'];
const make = (extra: Partial<RaftConfig> = {}) => new Raft({ id: 'a', peers, electionTick: 10, heartbeatTick: 1, rng: seededRng(1), preVote: false, ...extra });

function drain(r: Raft): Message[] {
  const sent: Message[] = [];
  for (let rd: Ready | null = r.ready(); rd; rd = r.ready()) sent.push(...rd.messages, ...r.advance(rd));
  return sent;
}

const ack = (from: string, matchIndex: number, prevLogIndex: number, incarnation?: number): AppendEntriesRes => ({
  type: 'AppendEntriesRes', from, to: 'a', term: 1, success: true, matchIndex, prevLogIndex, conflictIndex: 0, conflictTerm: 0, readSeq: 0,
  ...(incarnation !== undefined ? { incarnation } : {}),
});

/** Leader a of term 1: entries 1..11 committed and applied with b's help, a snapshot at 11, the log compacted to 9. */
function compactedLeader(extra: Partial<RaftConfig> = {}) {
  let latest: Snapshot | null = null;
  const a = make({ latestSnapshot: () => latest, ...extra });
  a.campaignNow();
  drain(a);
  a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: true, preVote: false });
  a.propose(Array.from({ length: 10 }, (_, k) => ({ data: `k${k}=${k}` })));
  drain(a);
  a.step(ack('b', 11, 0, 1));
  drain(a);
  const snapshot: Snapshot = { index: 11, term: 1, data: new TextEncoder().encode('state@11') };
  latest = snapshot;
  a.compact(9);
  return { a, snapshot, setLatest: (s: Snapshot | null) => (latest = s) };
}

describe('the leader doubts a restarted follower, but not over a heartbeat that checks nothing', () => {
  it('a success to a heartbeat sent during a snapshot, from a newer incarnation, leaves the snapshot state and the match alone', () => {
    const { a } = compactedLeader();
    a.step(ack('c', 0, 0, 1));
    expect(drain(a).filter((m) => m.to === 'c').map((m) => m.type)).toEqual(['InstallSnapshot']);
    expect(a.status().progress!.c).toMatchObject({ state: 'snapshot', matchIndex: 0 });
    a.tick();
    const hb = drain(a).filter((m): m is AppendEntries => m.to === 'c' && m.type === 'AppendEntries');
    expect(hb.length).toBeGreaterThan(0);
    for (const m of hb) expect(m).toMatchObject({ prevLogIndex: 0, entries: [] });
    // c restarted (incarnation 2) and answers one of those heartbeats: matchIndex is its snapshotIndex, 0.
    a.step(ack('c', 0, 0, 2));
    expect(a.status().progress!.c).toMatchObject({ state: 'snapshot', matchIndex: 0 });
    expect(drain(a).filter((m) => m.to === 'c')).toEqual([]);
    // Its answer to the snapshot, from the new life, counts.
    a.step({ type: 'InstallSnapshotRes', from: 'c', to: 'a', term: 1, snapshotIndex: 11, success: true, matchIndex: 11, incarnation: 2 });
    expect(a.status().progress!.c).toMatchObject({ state: 'replicate', matchIndex: 11 });
    // An answer from the earlier life is stale now.
    a.step({ type: 'InstallSnapshotRes', from: 'c', to: 'a', term: 1, snapshotIndex: 11, success: true, matchIndex: 11, incarnation: 1 });
    expect(a.status().progress!.c).toMatchObject({ state: 'replicate', matchIndex: 11 });
  });

  it('a success that checked the log, from a newer incarnation, still resets the match the leader held', () => {
    const { a } = compactedLeader();
    expect(a.status().progress!.b).toMatchObject({ state: 'replicate', matchIndex: 11 });
    a.propose([{ data: 'y=1' }]);
    drain(a);
    // b restarted and answers a heartbeat at prevLogIndex 11 from its new life: its old match is doubted, then re-learned.
    a.step(ack('b', 11, 11, 2));
    expect(a.status().progress!.b).toMatchObject({ state: 'replicate', matchIndex: 11, nextIndex: 13 });
    a.step(ack('b', 12, 11, 2));
    expect(a.status().progress!.b).toMatchObject({ matchIndex: 12 });
    expect(a.log.commitIndex).toBe(12);
  });

  it('a snapshot that is unavailable while the follower replicates stops the pipeline instead of spinning', () => {
    // One message in flight, one entry each: b is in replicate, behind, when the log is compacted past it.
    let latest: Snapshot | null = null;
    const a = make({ latestSnapshot: () => latest, maxInflight: 1, maxEntriesPerMessage: 1 });
    a.campaignNow();
    drain(a);
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: true, preVote: false });
    drain(a);
    a.step(ack('b', 1, 0));
    a.step(ack('c', 1, 0));
    drain(a);
    a.propose(Array.from({ length: 10 }, (_, k) => ({ data: `k${k}=${k}` })));
    const toB = drain(a).filter((m): m is AppendEntries => m.to === 'b' && m.type === 'AppendEntries');
    expect(toB.map((m) => indexes(m.entries))).toEqual([[2]]);
    a.step(ack('c', 11, 1));
    drain(a);
    expect(a.log.commitIndex).toBe(11);
    latest = { index: 11, term: 1, data: new Uint8Array() };
    a.compact(11);
    latest = null;
    // b acknowledges 2 and needs 3, compacted, with no snapshot to send: nothing goes out, nothing hangs.
    a.step(ack('b', 2, 1));
    expect(drain(a).filter((m) => m.to === 'b')).toEqual([]);
    expect(a.status().progress!.b).toMatchObject({ state: 'replicate', matchIndex: 2 });
    // Once a snapshot is available again, the next answer gets it.
    latest = { index: 11, term: 1, data: new Uint8Array() };
    a.tick();
    drain(a);
    // b answers the heartbeat, which checked nothing (prevLogIndex 0): it holds no snapshot.
    a.step(ack('b', 0, 0));
    expect(drain(a).filter((m) => m.to === 'b').map((m) => m.type)).toEqual(['InstallSnapshot']);
  });
});

describe('a full window toward a follower the log was compacted past', () => {
  it('drains through a snapshot on the next heartbeat reply, whatever was lost in flight', () => {
    // Two entries in flight at most, one per message: the window fills while b is behind.
    let latest: Snapshot | null = null;
    const a = make({ latestSnapshot: () => latest, maxInflight: 2, maxEntriesPerMessage: 1 });
    a.campaignNow();
    drain(a);
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: true, preVote: false });
    drain(a);
    a.step(ack('b', 1, 0));
    a.step(ack('c', 1, 0));
    drain(a);
    a.propose(Array.from({ length: 10 }, (_, k) => ({ data: `k${k}=${k}` })));
    // Entries 2 and 3 go to b, and are lost.
    expect(drain(a).filter((m): m is AppendEntries => m.to === 'b' && m.type === 'AppendEntries').map((m) => indexes(m.entries))).toEqual([[2], [3]]);
    a.step(ack('c', 11, 1));
    drain(a);
    latest = { index: 11, term: 1, data: new Uint8Array() };
    a.compact(11);
    expect(a.status().progress!.b).toMatchObject({ state: 'replicate', nextIndex: 4, inflight: 2 });
    // Heartbeats to b check nothing now (its next entry is compacted) ...
    a.tick();
    expect(drain(a).filter((m) => m.to === 'b')).toMatchObject([{ type: 'AppendEntries', prevLogIndex: 0, entries: [] }]);
    // ... and b's answer to one is enough to send the snapshot, though the window is full.
    a.step(ack('b', 0, 0));
    expect(drain(a).filter((m) => m.to === 'b').map((m) => m.type)).toEqual(['InstallSnapshot']);
    expect(a.status().progress!.b).toMatchObject({ state: 'snapshot', inflight: 0 });
  });
});

describe('byte-bounded replication with compaction (simulated)', () => {
  const opts: Partial<SimOptions> = { maxSizePerMsg: 1_000, maxInflightBytes: 4_000, snapshotEvery: 6, keepTail: 2, volatileStateMachine: true };
  const big = (key: string, n: number) => `${key}=${'v'.repeat(n)}`;

  itSeeded('a follower far behind on big entries gets a snapshot, then entries in bounded messages', 7700, 5, (seed) => {
    // The invariants check every AppendEntries against maxSizePerMsg, every window against
    // maxInflightBytes, and every commit against what a majority's disks (or snapshots) hold.
    const c = new SimCluster({ seed, size: 3, persistDelay: [0, 4], ...opts });
    const leader = c.waitForLeader();
    const f = c.ids.find((id) => id !== leader)!;
    c.crash(f);
    for (let i = 0; i < 40; i++) c.one(big(`k${i}`, 300 + ((i * 37) % 400)), 2);
    c.restart(f);
    const target = c.one(big('after', 900), 3);
    c.runUntil(() => c.nodes.get(f)!.durable.appliedIndex >= target, 20_000, `${f} to catch up`);
    expect(c.snapshotsInstalled.get(f)).toBeGreaterThanOrEqual(1);
    expect(c.nodes.get(f)!.durable.kv.get('k39')).toBe('v'.repeat(300 + ((39 * 37) % 400)));
  });

  itSeeded('followers that crash and restart (new incarnations) over an unreliable network converge', 7800, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5, persistDelay: [0, 6], ...opts });
    c.net.faults = unreliable;
    const rng = seededRng(seed * 13 + 1);
    c.waitForLeader(10_000);
    for (let round = 0; round < 4; round++) {
      const victim = c.ids[rng.int(0, 5)];
      c.crash(victim);
      for (let i = 0; i < 8; i++) c.one(big(`r${round}k${i}`, 100 + rng.int(0, 1_200)), 4, 30_000);
      c.restart(victim);
      c.one(`r${round}=back`, 5, 30_000);
    }
    const idx = c.one('end=1', 5, 30_000);
    c.runUntil(() => c.ids.every((id) => c.nodes.get(id)!.durable.appliedIndex >= idx), 30_000, 'every node to apply the end');
    const [first, ...rest] = c.ids.map((id) => c.nodes.get(id)!.durable);
    for (const d of rest) expect(d.digest).toBe(first.digest);
  });

  itSeeded('a follower whose log loses its tail after a snapshot is doubted until it acknowledges again', 7900, 5, (seed) => {
    // As log-loss.test.ts, with compaction: 5 nodes, L and A alone acknowledge entries that cannot commit.
    const c = new SimCluster({ seed, size: 5, checkQuorum: false, ...opts, snapshotEvery: 3, keepTail: 0 });
    const leader = c.waitForLeader();
    for (let i = 0; i < 10; i++) c.one(`pre${i}=${i}`, 5);
    const [a, b, down1, down2] = c.ids.filter((id) => id !== leader);
    expect(c.nodes.get(a)!.durable.snapshot).not.toBeNull();
    c.crash(down1);
    c.crash(down2);
    c.isolate(b);
    const proposed: number[] = [];
    for (let i = 0; i < 6; i++) proposed.push(c.propose(big(`p${i}`, 400))!.index);
    c.run(200);
    const last = proposed.at(-1)!;
    expect(c.raft(leader).status().progress![a].matchIndex).toBe(last);
    c.crash(a);
    c.loseLogTail(a, proposed[0] - 1);
    c.restart(a);
    c.run(100);
    c.reconnect(b);
    c.runUntil(() => c.raft(leader).log.commitIndex >= last, 5_000, 'the entries to commit');
    expect(durableLastIndex(c.nodes.get(a)!.durable)).toBeGreaterThanOrEqual(last);
  });
});
