import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/types.ts';
import { elect, flush, logOf, node, sent } from './transcript.ts';

/**
 * Targeted, deterministic checks of two rules the randomized suites catch only on lucky
 * seeds: a vote goes only to a candidate whose log is at least as up to date (§5.4.1),
 * and any reply carrying a newer term makes a leader or candidate step down (§5.1).
 */

describe('the vote rule: at least as up to date, exactly at the boundary', () => {
  // The voter holds 1..3, all of term 2, and is in term 2 with no vote cast.
  const voter = () => node('b', { hardState: { term: 2, votedFor: null, commitIndex: 1 }, entries: logOf(1, 2, 2), appliedIndex: 1 });

  it.each([
    ['one entry shorter, same last term', 2, 2, false],
    ['two entries shorter, same last term', 1, 2, false],
    ['exactly as long, same last term', 3, 2, true],
    ['one entry longer, same last term', 4, 2, true],
    ['shorter but a newer last term', 1, 3, true],
    ['longer but an older last term', 9, 1, false],
    ['as long but an older last term', 3, 1, false],
    ['an empty log', 0, 0, false],
  ])('%s (last %i/%i): granted %s', (_, lastLogIndex, lastLogTerm, granted) => {
    for (const preVote of [false, true]) {
      const b = voter();
      b.step({ type: 'RequestVote', from: 'a', to: 'b', term: 3, lastLogIndex, lastLogTerm, preVote });
      const f = flush(b)!;
      const kind = preVote ? 'PreVoteRes' : 'VoteRes';
      // A refused pre-vote answers in the voter's own term; everything else in term 3.
      const term = preVote && !granted ? 2 : 3;
      expect(sent(f), `preVote ${preVote}`).toEqual([`b->a ${kind} t${term} ${granted ? 'granted' : 'rejected'}`]);
      if (preVote) expect(f.hardState, 'a pre-vote changes nothing durable').toBeNull();
      // A real request moves the voter to term 3 either way; only a grant records the vote.
      else expect(f.hardState).toEqual({ term: 3, votedFor: granted ? 'a' : null, commitIndex: 1 });
    }
  });

  it('one vote per term: a second candidate in the same term is refused, the same one again is not', () => {
    const b = voter();
    const ask = (from: string): Message => ({ type: 'RequestVote', from, to: 'b', term: 3, lastLogIndex: 3, lastLogTerm: 2, preVote: false });
    b.step(ask('a'));
    expect(sent(flush(b))).toEqual(['b->a VoteRes t3 granted']);
    b.step(ask('c'));
    expect(sent(flush(b))).toEqual(['b->c VoteRes t3 rejected']);
    b.step(ask('a'));
    expect(sent(flush(b))).toEqual(['b->a VoteRes t3 granted']);
  });
});

describe('a newer term in a reply ends leadership and candidacy', () => {
  const start = { hardState: { term: 1, votedFor: null, commitIndex: 1 }, entries: logOf(1), appliedIndex: 1 };

  it('a leader that reads a newer term in an AppendEntries rejection steps down into that term', () => {
    const a = node('a', start);
    expect(elect(a, 'b').role).toBe('leader');
    a.step({ type: 'AppendEntriesRes', from: 'c', to: 'a', term: 5, success: false, matchIndex: 0, prevLogIndex: 1, conflictIndex: 0, conflictTerm: 0, readSeq: 0 });
    const f = flush(a)!;
    expect(f.hardState).toEqual({ term: 5, votedFor: null, commitIndex: 1 });
    expect(a.softState()).toEqual({ role: 'follower', term: 5, leaderId: null });
    // And it no longer acts as leader.
    expect(a.propose([{ data: 'x' }])).toEqual({ ok: false, leaderId: null, reason: 'not the leader (leader: unknown)' });
  });

  it('a leader that reads a newer term in an AppendEntries success steps down too', () => {
    const a = node('a', start);
    elect(a, 'b');
    a.step({ type: 'AppendEntriesRes', from: 'b', to: 'a', term: 4, success: true, matchIndex: 2, prevLogIndex: 1, conflictIndex: 0, conflictTerm: 0, readSeq: 0 });
    expect(a.softState()).toEqual({ role: 'follower', term: 4, leaderId: null });
    expect(flush(a)!.hardState).toEqual({ term: 4, votedFor: null, commitIndex: 1 });
  });

  it('a leader that reads a newer term in a late vote refusal steps down', () => {
    const a = node('a', start);
    elect(a, 'b');
    a.step({ type: 'RequestVoteRes', from: 'c', to: 'a', term: 6, voteGranted: false, preVote: false });
    expect(a.softState()).toEqual({ role: 'follower', term: 6, leaderId: null });
  });

  it('a candidate that reads a newer term in a vote refusal steps down into it', () => {
    const a = node('a', { ...start, preVote: false });
    a.campaignNow();
    expect(flush(a)!.role).toBe('candidate');
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 7, voteGranted: false, preVote: false });
    expect(a.softState()).toEqual({ role: 'follower', term: 7, leaderId: null });
    expect(flush(a)!.hardState).toEqual({ term: 7, votedFor: null, commitIndex: 1 });
  });

  it('a pre-candidate that reads a newer term in a pre-vote refusal adopts it', () => {
    const a = node('a', start);
    a.campaignNow();
    expect(flush(a)!.role).toBe('preCandidate');
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 4, voteGranted: false, preVote: true });
    expect(a.softState()).toEqual({ role: 'follower', term: 4, leaderId: null });
  });

  it('a leader answered with a newer term by every follower is no leader: nothing it proposes commits', () => {
    const a = node('a', start);
    elect(a, 'b');
    for (const from of ['b', 'c']) {
      a.step({ type: 'AppendEntriesRes', from, to: 'a', term: 3, success: true, matchIndex: 2, prevLogIndex: 1, conflictIndex: 0, conflictTerm: 0, readSeq: 0 });
    }
    expect(a.status().commitIndex).toBe(1);
  });
});
