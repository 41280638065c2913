import { describe, expect, it } from 'vitest';
import { Raft, type RaftConfig } from '../../src/raft/raft.ts';
import { seededRng } from '../../src/raft/rng.ts';
import type { AppendEntries, AppendEntriesRes, Entry, InstallSnapshot, Message, Ready, Snapshot } from '../../src/raft/types.ts';

const peers = ['a', 'b', 'c'];
const data = (s: string) => new TextEncoder().encode(s);
const make = (id: string, extra: Partial<RaftConfig> = {}) => new Raft({ id, peers, electionTick: 10, heartbeatTick: 1, rng: seededRng(1), preVote: false, ...extra });
const ents = (from: number, to: number, term: number): Entry[] => Array.from({ length: to - from + 1 }, (_, k) => ({ index: from + k, term, kind: 'command' as const, data: `x${from + k}` }));

/** Runs the Ready loop to quiescence as a driver with an instant disk would; returns everything sent and the Readies. */
function drain(r: Raft): { sent: Message[]; readies: Ready[] } {
  const sent: Message[] = [];
  const readies: Ready[] = [];
  for (let rd = r.ready(); rd; rd = r.ready()) {
    readies.push(rd);
    sent.push(...rd.messages, ...r.advance(rd));
  }
  return { sent, readies };
}

const ack = (from: string, matchIndex: number, prevLogIndex = 0): AppendEntriesRes => ({
  type: 'AppendEntriesRes', from, to: 'a', term: 1, success: true, matchIndex, prevLogIndex, conflictIndex: 0, conflictTerm: 0, readSeq: 0,
});

/**
 * Leader a of term 1 with entries 1..11 committed and applied (b holds them, c nothing),
 * a snapshot at 11 and its log compacted to 9 (two entries kept below the snapshot).
 */
function compactedLeader() {
  let latest: Snapshot | null = null;
  const a = make('a', { latestSnapshot: () => latest });
  a.campaignNow();
  drain(a);
  a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: true, preVote: false });
  a.propose(Array.from({ length: 10 }, (_, k) => ({ data: `k${k}=${k}` })));
  drain(a);
  a.step(ack('b', 11));
  const applied = drain(a).readies.flatMap((rd) => rd.committedEntries);
  expect(applied.map((e) => e.index)).toEqual(Array.from({ length: 11 }, (_, k) => k + 1));
  const snapshot: Snapshot = { index: 11, term: 1, data: data('state@11') };
  latest = snapshot;
  a.compact(9);
  return { a, snapshot, setLatest: (s: Snapshot | null) => (latest = s) };
}

describe('log compaction and InstallSnapshot in the core', () => {
  it('compact() keeps the log from the given index on and reports it in status()', () => {
    const { a } = compactedLeader();
    expect(a.status()).toMatchObject({ snapshotIndex: 9, firstIndex: 10, lastIndex: 11, commitIndex: 11, appliedIndex: 11 });
    expect(a.log.term(9)).toBe(1);
    expect(() => a.log.term(8)).toThrow(/compacted/);
    a.compact(11);
    expect(a.status()).toMatchObject({ snapshotIndex: 11, firstIndex: 12, lastIndex: 11 });
  });

  it('compact() refuses to pass what was applied, or what the latest snapshot covers', () => {
    const { a, setLatest } = compactedLeader();
    a.propose([{ data: 'y=1' }]);
    expect(() => a.compact(12)).toThrow(/only 11 was handed out to apply/);
    setLatest({ index: 10, term: 1, data: data('') });
    expect(() => a.compact(11)).toThrow(/latest snapshot is at 10/);
    setLatest({ index: 11, term: 2, data: data('') });
    expect(() => a.compact(11)).toThrow(/does not match/);
    setLatest(null);
    expect(() => a.compact(11)).toThrow(/missing/);
    expect(() => make('b').compact(0)).not.toThrow();
  });

  it('a follower that needs compacted entries gets the latest snapshot, then only heartbeats until it answers', () => {
    const { a, snapshot } = compactedLeader();
    // c answers a heartbeat holding nothing: it needs entry 1, which is compacted.
    a.step(ack('c', 0));
    let { sent } = drain(a);
    const inst = sent.filter((m): m is InstallSnapshot => m.type === 'InstallSnapshot');
    expect(inst).toHaveLength(1);
    expect(inst[0]).toMatchObject({ to: 'c', term: 1, snapshot: { index: 11, term: 1 } });
    expect(inst[0].snapshot.data).toBe(snapshot.data);
    expect(a.status().progress!.c).toMatchObject({ state: 'snapshot' });
    // New entries and heartbeats: nothing but empty AppendEntries that check nothing.
    a.propose([{ data: 'y=1' }]);
    a.tick();
    sent = drain(a).sent.filter((m) => m.to === 'c');
    expect(sent.length).toBeGreaterThan(0);
    for (const m of sent) expect(m).toMatchObject({ type: 'AppendEntries', prevLogIndex: 0, prevLogTerm: 0, entries: [] });
    // A reply to one of those heartbeats from before the install changes nothing.
    a.step(ack('c', 0));
    expect(drain(a).sent.filter((m) => m.to === 'c')).toEqual([]);
    // The answer: c installed it; replication resumes right after it.
    a.step({ type: 'InstallSnapshotRes', from: 'c', to: 'a', term: 1, snapshotIndex: 11, success: true, matchIndex: 11 });
    expect(a.status().progress!.c).toMatchObject({ state: 'replicate', matchIndex: 11, nextIndex: 13 });
    sent = drain(a).sent.filter((m) => m.to === 'c');
    expect(sent).toMatchObject([{ type: 'AppendEntries', prevLogIndex: 11, prevLogTerm: 1, entries: [{ index: 12 }] }]);
  });

  it('reportSnapshot: a failed transfer is tried again once the follower answers; a finished one probes past it', () => {
    const { a } = compactedLeader();
    a.step(ack('c', 0));
    drain(a);
    a.reportSnapshot('c', false);
    expect(a.status().progress!.c).toMatchObject({ state: 'probe', nextIndex: 1 });
    // The next heartbeat sends no snapshot (c may be gone); c's answer to it does.
    a.tick();
    expect(drain(a).sent.filter((m) => m.to === 'c').map((m) => m.type)).toEqual(['AppendEntries']);
    a.step(ack('c', 0));
    expect(drain(a).sent.filter((m) => m.to === 'c').map((m) => m.type)).toEqual(['InstallSnapshot']);
    a.reportSnapshot('c', true);
    expect(a.status().progress!.c).toMatchObject({ state: 'probe', nextIndex: 12 });
    // Paused until c answers or the next heartbeat, which then probes at the snapshot's index.
    a.propose([{ data: 'y=1' }]);
    expect(drain(a).sent.filter((m) => m.to === 'c')).toEqual([]);
    a.tick();
    expect(drain(a).sent.filter((m) => m.to === 'c')).toMatchObject([{ type: 'AppendEntries', prevLogIndex: 11, prevLogTerm: 1, entries: [] }]);
    a.step(ack('c', 11, 11));
    expect(a.status().progress!.c).toMatchObject({ state: 'replicate', matchIndex: 11 });
    // Reports outside the snapshot state (late, duplicated) are ignored.
    a.reportSnapshot('c', false);
    expect(a.status().progress!.c).toMatchObject({ state: 'replicate', matchIndex: 11 });
  });

  it('a snapshot temporarily unavailable is tried again later', () => {
    const { a, setLatest, snapshot } = compactedLeader();
    setLatest(null);
    a.step(ack('c', 0));
    expect(drain(a).sent.filter((m) => m.to === 'c')).toEqual([]);
    expect(a.status().progress!.c.state).toBe('probe');
    setLatest(snapshot);
    a.tick();
    drain(a);
    a.step(ack('c', 0));
    expect(drain(a).sent.filter((m) => m.to === 'c').map((m) => m.type)).toEqual(['InstallSnapshot']);
  });

  it('a follower installs a snapshot past its log: Ready.snapshot to persist, no applies until it is durable, the answer after advance()', () => {
    const c = make('c');
    c.step({ type: 'AppendEntries', from: 'a', to: 'c', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: ents(1, 3, 1), leaderCommit: 2, readSeq: 0 });
    drain(c);
    const snapshot: Snapshot = { index: 20, term: 1, data: data('s') };
    c.step({ type: 'InstallSnapshot', from: 'a', to: 'c', term: 1, snapshot });
    expect(c.status()).toMatchObject({ snapshotIndex: 20, firstIndex: 21, lastIndex: 20, lastTerm: 1, commitIndex: 20, appliedIndex: 20 });
    // Entries that follow arrive before the snapshot is durable.
    c.step({ type: 'AppendEntries', from: 'a', to: 'c', term: 1, prevLogIndex: 20, prevLogTerm: 1, entries: ents(21, 22, 1), leaderCommit: 22, readSeq: 0 });
    const rd = c.ready()!;
    // A snapshot that does not say its configuration gets the one in force here, for the driver to persist.
    expect(rd.snapshot).toEqual({ ...snapshot, conf: { voters: peers, learners: [], votersOutgoing: [] } });
    expect(rd.snapshot!.data).toBe(snapshot.data);
    expect(rd.mustSync).toBe(true);
    expect(rd.committedEntries).toEqual([]);
    expect(rd.entries.map((e) => e.index)).toEqual([21, 22]);
    expect(rd.messages).toEqual([]);
    const after = c.advance(rd);
    expect(after).toMatchObject([
      { type: 'InstallSnapshotRes', to: 'a', term: 1, snapshotIndex: 20, success: true, matchIndex: 20 },
      { type: 'AppendEntriesRes', success: true, matchIndex: 22 },
    ]);
    expect(c.ready()!.committedEntries.map((e) => e.index)).toEqual([21, 22]);
  });

  it('a follower that holds the snapshot’s last entry keeps its log and commits to it (no snapshot to restore)', () => {
    const c = make('c');
    c.step({ type: 'AppendEntries', from: 'a', to: 'c', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: ents(1, 8, 1), leaderCommit: 2, readSeq: 0 });
    drain(c);
    c.step({ type: 'InstallSnapshot', from: 'a', to: 'c', term: 1, snapshot: { index: 5, term: 1, data: data('s') } });
    const { sent, readies } = drain(c);
    expect(readies.every((rd) => rd.snapshot === null)).toBe(true);
    expect(readies.flatMap((rd) => rd.committedEntries).map((e) => e.index)).toEqual([3, 4, 5]);
    expect(sent).toMatchObject([{ type: 'InstallSnapshotRes', success: true, matchIndex: 5 }]);
    expect(c.status()).toMatchObject({ snapshotIndex: 0, lastIndex: 8, commitIndex: 5 });
  });

  it('a follower ignores a snapshot no newer than its commit index, and answers with that index', () => {
    const c = make('c');
    c.step({ type: 'AppendEntries', from: 'a', to: 'c', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: ents(1, 8, 1), leaderCommit: 7, readSeq: 0 });
    drain(c);
    c.step({ type: 'InstallSnapshot', from: 'a', to: 'c', term: 1, snapshot: { index: 6, term: 1, data: data('s') } });
    const { sent, readies } = drain(c);
    expect(readies.every((rd) => rd.snapshot === null)).toBe(true);
    expect(sent).toMatchObject([{ type: 'InstallSnapshotRes', success: true, snapshotIndex: 6, matchIndex: 7 }]);
    expect(c.status()).toMatchObject({ snapshotIndex: 0, lastIndex: 8 });
  });

  it('a snapshot from an older term is refused with the newer term', () => {
    const c = make('c', { hardState: { term: 3, votedFor: null, commitIndex: 0 } });
    c.step({ type: 'InstallSnapshot', from: 'a', to: 'c', term: 2, snapshot: { index: 6, term: 2, data: data('s') } });
    const { sent, readies } = drain(c);
    expect(readies.every((rd) => rd.snapshot === null)).toBe(true);
    expect(sent).toMatchObject([{ type: 'InstallSnapshotRes', term: 3, success: false }]);
    expect(c.status().snapshotIndex).toBe(0);
  });

  it('an InstallSnapshot of a newer term makes the receiver follow its sender', () => {
    const c = make('c');
    c.step({ type: 'InstallSnapshot', from: 'a', to: 'c', term: 4, snapshot: { index: 6, term: 2, data: data('s') } });
    expect(c.status()).toMatchObject({ role: 'follower', term: 4, leaderId: 'a', snapshotIndex: 6 });
    const rd = c.ready()!;
    expect(rd.hardState).toMatchObject({ term: 4 });
    expect(rd.snapshot).not.toBeNull();
  });

  it('an AppendEntries that starts below the follower’s snapshot is checked from the snapshot on', () => {
    const c = make('c', { snapshot: { index: 10, term: 2 }, latestSnapshot: () => ({ index: 10, term: 2, data: data('s') }), hardState: { term: 2, votedFor: null, commitIndex: 10 } });
    // A delayed message from before the install, overlapping the snapshot.
    c.step({ type: 'AppendEntries', from: 'a', to: 'c', term: 2, prevLogIndex: 7, prevLogTerm: 1, entries: [...ents(8, 9, 1), ...ents(10, 12, 2)], leaderCommit: 12, readSeq: 0 });
    const { sent } = drain(c);
    expect(sent).toMatchObject([{ type: 'AppendEntriesRes', success: true, matchIndex: 12, prevLogIndex: 7 }]);
    expect(c.status()).toMatchObject({ lastIndex: 12, commitIndex: 12, snapshotIndex: 10 });
    // A heartbeat that checks nothing (what a follower in snapshot state receives).
    c.step({ type: 'AppendEntries', from: 'a', to: 'c', term: 2, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 12, readSeq: 0 });
    expect(drain(c).sent).toMatchObject([{ type: 'AppendEntriesRes', success: true, matchIndex: 10 }]);
  });

  it('a restart from a snapshot and an overlapping log tail starts the log after the snapshot', () => {
    const latest: Snapshot = { index: 10, term: 2, data: data('s') };
    const r = make('b', { snapshot: { index: 10, term: 2 }, latestSnapshot: () => latest, entries: [...ents(7, 9, 1), ...ents(10, 13, 2)], hardState: { term: 2, votedFor: 'a', commitIndex: 4 }, appliedIndex: 10 });
    expect(r.status()).toMatchObject({ snapshotIndex: 10, firstIndex: 11, lastIndex: 13, lastTerm: 2, commitIndex: 10, appliedIndex: 10, term: 2 });
    // Nothing the snapshot covers is handed out again.
    expect(r.ready()).toMatchObject({ snapshot: null, entries: [], committedEntries: [] });
    expect(() => make('b', { snapshot: { index: 10, term: 2 } })).toThrow(/needs latestSnapshot/);
    expect(() => make('b', { snapshot: { index: 10, term: 2 }, latestSnapshot: () => latest, entries: ents(12, 13, 2) })).toThrow(/past the snapshot/);
  });

  it('a restarted node whose state machine is at the snapshot hands out only what follows it', () => {
    const latest: Snapshot = { index: 10, term: 2, data: data('s') };
    const r = make('b', { snapshot: { index: 10, term: 2 }, latestSnapshot: () => latest, entries: ents(11, 14, 2), hardState: { term: 2, votedFor: 'a', commitIndex: 13 } });
    expect(r.status()).toMatchObject({ appliedIndex: 10, commitIndex: 13 });
    expect(r.ready()!.committedEntries.map((e) => e.index)).toEqual([11, 12, 13]);
  });

  it('a restarted leader with a compacted log catches a new follower up with a snapshot', () => {
    const latest: Snapshot = { index: 10, term: 1, data: data('s') };
    const a = make('a', { snapshot: { index: 10, term: 1 }, latestSnapshot: () => latest, entries: ents(11, 12, 1), hardState: { term: 1, votedFor: 'a', commitIndex: 12 } });
    a.campaignNow();
    drain(a);
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 2, voteGranted: true, preVote: false });
    const first = drain(a).sent.filter((m): m is AppendEntries => m.type === 'AppendEntries' && m.to === 'c');
    expect(first[0]).toMatchObject({ prevLogIndex: 12, prevLogTerm: 1, entries: [{ index: 13, term: 2 }] });
    // c has nothing: it rejects, and the hint points below the log.
    a.step({ type: 'AppendEntriesRes', from: 'c', to: 'a', term: 2, success: false, matchIndex: 0, prevLogIndex: 12, conflictIndex: 1, conflictTerm: 0, readSeq: 0 });
    expect(drain(a).sent.filter((m) => m.to === 'c')).toMatchObject([{ type: 'InstallSnapshot', snapshot: { index: 10, term: 1 } }]);
  });
});
