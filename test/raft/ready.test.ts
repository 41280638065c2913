import { describe, expect, it } from 'vitest';
import { Raft } from '../../src/raft/raft.ts';
import { seededRng } from '../../src/raft/rng.ts';
import type { Message } from '../../src/raft/types.ts';

const peers = ['a', 'b', 'c'];
const make = (id: string) => new Raft({ id, peers, electionTick: 10, heartbeatTick: 1, rng: seededRng(1), preVote: false });

describe('the Ready / advance contract', () => {
  it('a vote leaves only through advance(), after its hard state was handed out to persist', () => {
    const b = make('b');
    b.step({ type: 'RequestVote', from: 'a', to: 'b', term: 1, lastLogIndex: 0, lastLogTerm: 0, preVote: false });
    const rd = b.ready()!;
    expect(rd.hardState).toEqual({ term: 1, votedFor: 'a', commitIndex: 0 });
    expect(rd.messages).toEqual([]);
    // No second Ready while one is out: the vote cannot be fetched another way.
    expect(b.ready()).toBeNull();
    const after = b.advance(rd);
    expect(after).toMatchObject([{ type: 'RequestVoteRes', to: 'a', voteGranted: true, term: 1 }]);
  });

  it('an AppendEntries success leaves only after its entries were handed out to persist', () => {
    const b = make('b');
    b.step({ type: 'AppendEntries', from: 'a', to: 'b', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [{ index: 1, term: 1, kind: 'noop', data: '' }], leaderCommit: 0, readSeq: 0 });
    const rd = b.ready()!;
    expect(rd.entries).toHaveLength(1);
    expect(rd.messages).toEqual([]);
    expect(b.advance(rd)).toMatchObject([{ type: 'AppendEntriesRes', success: true, matchIndex: 1 }]);
  });

  it("the leader's AppendEntries go out before its own write, and commit waits for that write", () => {
    const a = make('a');
    a.campaignNow();
    let rd = a.ready()!;
    const votes = a.advance(rd);
    expect(votes.map((m) => m.type)).toEqual(['RequestVote', 'RequestVote']);
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: true, preVote: false });
    expect(a.status().role).toBe('leader');
    rd = a.ready()!;
    expect(rd.entries).toMatchObject([{ index: 1, kind: 'noop' }]);
    expect(rd.messages.filter((m: Message) => m.type === 'AppendEntries')).toHaveLength(2);
    // One follower acknowledges before the leader's own write is durable: not a majority yet.
    const ack = { type: 'AppendEntriesRes', to: 'a', term: 1, success: true, matchIndex: 1, prevLogIndex: 0, conflictIndex: 0, conflictTerm: 0, readSeq: 0 } as const;
    a.step({ ...ack, from: 'b' });
    expect(a.status().commitIndex).toBe(0);
    a.advance(rd);
    expect(a.status().commitIndex).toBe(1);
    expect(a.ready()!.committedEntries).toMatchObject([{ index: 1 }]);
  });

  it('two followers make a majority without the leader, but nothing is applied before its write', () => {
    const a = make('a');
    a.campaignNow();
    a.advance(a.ready()!);
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: true, preVote: false });
    const rd = a.ready()!;
    const ack = { type: 'AppendEntriesRes', to: 'a', term: 1, success: true, matchIndex: 1, prevLogIndex: 0, conflictIndex: 0, conflictTerm: 0, readSeq: 0 } as const;
    a.step({ ...ack, from: 'b' });
    a.step({ ...ack, from: 'c' });
    expect(a.status().commitIndex).toBe(1);
    expect(rd.committedEntries).toEqual([]);
    a.advance(rd);
    expect(a.ready()!.committedEntries).toMatchObject([{ index: 1 }]);
  });

  it('mustSync: term, vote or entries must reach disk; a commit index alone need not', () => {
    const b = make('b');
    const noop = { index: 1, term: 1, kind: 'noop', data: '' } as const;
    b.step({ type: 'AppendEntries', from: 'a', to: 'b', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [noop], leaderCommit: 0, readSeq: 0 });
    let rd = b.ready()!;
    expect(rd).toMatchObject({ mustSync: true, hardState: { term: 1, votedFor: null, commitIndex: 0 }, entries: [noop] });
    b.advance(rd);
    b.step({ type: 'AppendEntries', from: 'a', to: 'b', term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: [], leaderCommit: 1, readSeq: 0 });
    rd = b.ready()!;
    expect(rd).toMatchObject({ mustSync: false, hardState: null, entries: [], committedEntries: [noop] });
    expect(b.advance(rd)).toMatchObject([{ type: 'AppendEntriesRes', success: true, matchIndex: 1 }]);
    expect(b.status()).toMatchObject({ term: 1, commitIndex: 1, appliedIndex: 1 });
  });

  it("status() reports a leader's view of each follower, and none elsewhere", () => {
    const a = make('a');
    expect(a.status()).toEqual({
      id: 'a',
      role: 'follower',
      term: 0,
      leaderId: null,
      votedFor: null,
      commitIndex: 0,
      appliedIndex: 0,
      lastIndex: 0,
      lastTerm: 0,
      snapshotIndex: 0,
      firstIndex: 1,
      progress: null,
      conf: { voters: ['a', 'b', 'c'], learners: [], votersOutgoing: [] },
      confIndex: 0,
      leadTransferee: null,
    });
    a.campaignNow();
    a.advance(a.ready()!);
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: true, preVote: false });
    a.advance(a.ready()!);
    a.step({ type: 'AppendEntriesRes', from: 'b', to: 'a', term: 1, success: true, matchIndex: 1, prevLogIndex: 0, conflictIndex: 0, conflictTerm: 0, readSeq: 0 });
    expect(a.status()).toMatchObject({
      role: 'leader',
      leaderId: 'a',
      votedFor: 'a',
      commitIndex: 1,
      lastIndex: 1,
      lastTerm: 1,
      progress: { b: { matchIndex: 1, nextIndex: 2, state: 'replicate', learner: false }, c: { matchIndex: 0, nextIndex: 1, state: 'probe', learner: false } },
    });
  });

  it('advance() refuses a Ready that is not the outstanding one', () => {
    const a = make('a');
    a.campaignNow();
    const rd = a.ready()!;
    expect(() => a.advance({ ...rd })).toThrow(/not the outstanding one/);
  });

  it('a restarted node keeps term, vote and log, and applies nothing twice', () => {
    const a = new Raft({
      id: 'a',
      peers,
      electionTick: 10,
      heartbeatTick: 1,
      rng: seededRng(2),
      hardState: { term: 3, votedFor: 'b', commitIndex: 2 },
      entries: [
        { index: 1, term: 1, kind: 'noop', data: '' },
        { index: 2, term: 3, kind: 'command', data: 'x=1' },
      ],
      appliedIndex: 1,
    });
    const st = a.status();
    expect([st.term, st.votedFor, st.lastIndex]).toEqual([3, 'b', 2]);
    expect(a.ready()!.committedEntries.map((e) => e.index)).toEqual([2]);
  });
});
