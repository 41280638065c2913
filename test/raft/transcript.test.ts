import { describe, expect, it } from 'vitest';
import { seededRng } from '../../src/raft/rng.ts';
import type { Message } from '../../src/raft/types.ts';
import { elect, flush, logOf, node, pick, sent, tickUntilReady, type Flushed } from './transcript.ts';

/**
 * Transcript tests in the etcd style: a Raft built directly with a seeded rng, exact
 * messages stepped in, and the exact messages (and what must be persisted first) that
 * must come out. Lines read `from->to Kind tTerm ...` (see show() in transcript.ts).
 */

const hs1 = { term: 1, votedFor: null, commitIndex: 1 };

/** Nothing to send and nothing to persist (whether or not a Ready reports the role change). */
function expectQuiet(f: Flushed | null): void {
  expect(sent(f)).toEqual([]);
  expect(f?.hardState ?? null).toBeNull();
  expect(f?.entries ?? []).toEqual([]);
}

describe('transcript: pre-vote', () => {
  it('a timed-out follower asks for pre-votes without touching its term, then campaigns for real', () => {
    const a = node('a', { hardState: hs1, entries: logOf(1), appliedIndex: 1 });
    const b = node('b', { hardState: hs1, entries: logOf(1), appliedIndex: 1 });
    const c = node('c', { hardState: hs1, entries: logOf(1, 1), appliedIndex: 1 });

    tickUntilReady(a);
    const pre = flush(a)!;
    // Nothing to persist: the term a would campaign in is only asked about.
    expect(pre).toMatchObject({ role: 'preCandidate', term: 1, hardState: null, now: [] });
    expect(pre.afterPersist).toEqual(['a->b PreVote t2 last=1/1', 'a->c PreVote t2 last=1/1']);

    // b would vote: a's log is as long as its own. It answers in the asked-about term, and changes nothing.
    b.step(pick(pre, 'RequestVote', 'b'));
    const fb = flush(b)!;
    expect(sent(fb)).toEqual(['b->a PreVoteRes t2 granted']);
    expect(fb).toMatchObject({ role: 'follower', term: 1, hardState: null });

    // c would not: its log is longer. The refusal carries c's own term.
    c.step(pick(pre, 'RequestVote', 'c'));
    const fc = flush(c)!;
    expect(sent(fc)).toEqual(['c->a PreVoteRes t1 rejected']);
    expect(fc).toMatchObject({ term: 1, hardState: null });

    // One grant and a's own make a quorum of 3: now the real campaign, vote persisted first.
    a.step(pick(fc, 'RequestVoteRes', 'a'));
    expect(flush(a)).toBeNull();
    a.step(pick(fb, 'RequestVoteRes', 'a'));
    const vote = flush(a)!;
    expect(vote).toMatchObject({ role: 'candidate', term: 2, hardState: { term: 2, votedFor: 'a', commitIndex: 1 }, now: [] });
    expect(vote.afterPersist).toEqual(['a->b Vote t2 last=1/1', 'a->c Vote t2 last=1/1']);

    b.step(pick(vote, 'RequestVote', 'b'));
    const fb2 = flush(b)!;
    expect(fb2.hardState).toEqual({ term: 2, votedFor: 'a', commitIndex: 1 });
    expect(fb2.now).toEqual([]);
    expect(fb2.afterPersist).toEqual(['b->a VoteRes t2 granted']);

    a.step(pick(fb2, 'RequestVoteRes', 'a'));
    const lead = flush(a)!;
    expect(lead).toMatchObject({ role: 'leader', term: 2, entries: ['2/2'], afterPersist: [] });
    // The leader's own appends need not wait for its write.
    expect(lead.now).toEqual(['a->b App t2 prev=1/1 [2/2] commit=1 seq=0', 'a->c App t2 prev=1/1 [2/2] commit=1 seq=0']);
  });

  it('a pre-candidate refused by a majority goes back to follower in the same term', () => {
    const a = node('a', { hardState: hs1, entries: logOf(1), appliedIndex: 1 });
    a.campaignNow();
    const pre = flush(a)!;
    expect(pre.afterPersist).toEqual(['a->b PreVote t2 last=1/1', 'a->c PreVote t2 last=1/1']);
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: false, preVote: true });
    expect(a.softState().role).toBe('preCandidate');
    a.step({ type: 'RequestVoteRes', from: 'c', to: 'a', term: 1, voteGranted: false, preVote: true });
    // Back to follower; nothing to persist or send (today a role change alone makes no Ready at all).
    expect(a.softState()).toEqual({ role: 'follower', term: 1, leaderId: null });
    expectQuiet(flush(a));
  });

  it('a follower that heard from its leader within the election timeout ignores pre-votes and votes, then grants once the lease runs out', () => {
    // (rng seed 5: b's own election timeout falls well after the lease, at 17 ticks)
    const b = node('b', { hardState: hs1, entries: logOf(1), appliedIndex: 1, rng: seededRng(5) });
    b.step({ type: 'AppendEntries', from: 'c', to: 'b', term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: [], leaderCommit: 1, readSeq: 0 });
    expect(sent(flush(b))).toEqual(['b->c AppRes t1 ok match=1 prev=1 seq=0']);
    const ask = { type: 'RequestVote', from: 'a', to: 'b', term: 2, lastLogIndex: 1, lastLogTerm: 1, preVote: true } as const;
    // Inside the lease a newer-term request is dropped outright: no reply, no new term.
    b.step(ask);
    expect(flush(b)).toBeNull();
    b.step({ ...ask, preVote: false });
    expect(flush(b)).toBeNull();
    expect(b.softState()).toEqual({ role: 'follower', term: 1, leaderId: 'c' });
    for (let i = 0; i < 9; i++) b.tick();
    b.step(ask);
    expect(flush(b)).toBeNull();
    b.tick();
    b.step(ask);
    const granted = flush(b)!;
    expect(sent(granted)).toEqual(['b->a PreVoteRes t2 granted']);
    expect(granted).toMatchObject({ term: 1, hardState: null });
  });

  it('a pre-vote for a term that is not newer is refused', () => {
    const b = node('b', { hardState: { term: 3, votedFor: null, commitIndex: 1 }, entries: logOf(1), appliedIndex: 1 });
    b.step({ type: 'RequestVote', from: 'a', to: 'b', term: 3, lastLogIndex: 1, lastLogTerm: 1, preVote: true });
    expect(sent(flush(b))).toEqual(['b->a PreVoteRes t3 rejected']);
  });
});

describe('transcript: check-quorum', () => {
  /** a leads term 2 over b and c, each holding 1..2, everything committed and applied. */
  function settledLeader() {
    const a = node('a', { hardState: hs1, entries: logOf(1), appliedIndex: 1 });
    elect(a, 'b');
    for (const peer of ['b', 'c']) a.step({ type: 'AppendEntriesRes', from: peer, to: 'a', term: 2, success: true, matchIndex: 2, prevLogIndex: 1, conflictIndex: 0, conflictTerm: 0, readSeq: 0 });
    const settled = flush(a)!;
    expect(settled.committed).toEqual([2]);
    return a;
  }
  const ack = (from: string, m: Message): Message => {
    if (m.type !== 'AppendEntries') throw new Error(`not an append: ${m.type}`);
    return { type: 'AppendEntriesRes', from, to: 'a', term: m.term, success: true, matchIndex: m.prevLogIndex + m.entries.length, prevLogIndex: m.prevLogIndex, conflictIndex: 0, conflictTerm: 0, readSeq: m.readSeq };
  };

  it('a leader heartbeats every tick and steps down at the end of the first election timeout in which no quorum answered', () => {
    const a = settledLeader();
    // The acknowledgements of the no-op fall in the first window (ticks 1..10): it passes.
    for (let t = 1; t <= 19; t++) {
      a.tick();
      const hb = flush(a)!;
      expect(hb.now, `tick ${t}`).toEqual(['a->b App t2 prev=2/2 [] commit=2 seq=0', 'a->c App t2 prev=2/2 [] commit=2 seq=0']);
      expect(hb.role).toBe('leader');
    }
    // Nobody answered in ticks 11..20: on the 20th it gives up, without a heartbeat, in the
    // same term, with no vote cast.
    a.tick();
    expectQuiet(flush(a));
    expect(a.softState()).toEqual({ role: 'follower', term: 2, leaderId: null });
    expect(a.status()).toMatchObject({ term: 2, votedFor: 'a', commitIndex: 2 });
  });

  it('one follower answering once per window is a quorum of 3: the leader stays', () => {
    const a = settledLeader();
    for (let t = 1; t <= 50; t++) {
      a.tick();
      const hb = flush(a)!;
      expect(hb.role, `tick ${t}`).toBe('leader');
      if (t % 10 === 5) a.step(ack('b', pick(hb, 'AppendEntries', 'b')));
      flush(a);
    }
  });

  it('the quorum is counted per window: an answer in an earlier window does not carry over', () => {
    const a = settledLeader();
    const leading: number[] = [];
    for (let t = 1; t <= 40 && a.softState().role === 'leader'; t++) {
      a.tick();
      const hb = flush(a);
      if (hb?.role === 'leader') leading.push(t);
      // b answers once, late in the second window (ticks 11..20).
      if (t === 19) a.step(ack('b', pick(hb, 'AppendEntries', 'b')));
      flush(a);
    }
    // Windows 1 and 2 pass; window 3 (ticks 21..30) hears nothing: down on tick 30.
    expect(leading).toEqual(Array.from({ length: 29 }, (_, i) => i + 1));
    expect(a.softState().role).toBe('follower');
  });

  it('a step-down fails reads waiting for their round', () => {
    const a = settledLeader();
    a.readIndex('r1');
    const round = flush(a)!;
    expect(round.now).toEqual(['a->b App t2 prev=2/2 [] commit=2 seq=1', 'a->c App t2 prev=2/2 [] commit=2 seq=1']);
    for (let t = 1; t < 20; t++) {
      a.tick();
      expect(flush(a)!.readStates).toEqual([]);
    }
    a.tick();
    expect(flush(a)!.readStates).toEqual([{ ctx: 'r1', error: 'leadership lost in term 2' }]);
  });
});

describe('transcript: probe and replicate flow control', () => {
  it('one probe at a time until the follower answers, fast backtracking on a rejection, then pipelining up to maxInflight', () => {
    // a holds 1..3 from term 1 and leads term 2 (c voted); b holds only entry 1.
    const a = node('a', { hardState: { term: 1, votedFor: null, commitIndex: 1 }, entries: logOf(1, 1, 1), appliedIndex: 1, maxInflight: 2 });
    const lead = elect(a, 'c');
    expect(lead.now).toEqual(['a->b App t2 prev=3/1 [4/2] commit=1 seq=0', 'a->c App t2 prev=3/1 [4/2] commit=1 seq=0']);

    // A probe is outstanding to b: a proposal goes only to c, which is also still probing.
    expect(a.propose([{ data: 'x' }])).toMatchObject({ ok: true, index: 5 });
    expect(flush(a)!.now).toEqual([]);

    // b lacks index 3: it rejects, naming where its log ends.
    const b = node('b', { hardState: { term: 1, votedFor: null, commitIndex: 1 }, entries: logOf(1), appliedIndex: 1 });
    b.step(pick(lead, 'AppendEntries', 'b'));
    const rej = flush(b)!;
    expect(rej.afterPersist).toEqual(['b->a AppRes t2 reject prev=3 hint=2/0 seq=0']);

    // The leader jumps straight to b's end and sends everything from there in one probe.
    a.step(pick(rej, 'AppendEntriesRes', 'a'));
    const retry = flush(a)!;
    expect(retry.now).toEqual(['a->b App t2 prev=1/1 [2/1 3/1 4/2 5/2] commit=1 seq=0']);

    b.step(pick(retry, 'AppendEntries', 'b'));
    const ok = flush(b)!;
    expect(ok.entries).toEqual(['2/1', '3/1', '4/2', '5/2']);
    expect(ok.afterPersist).toEqual(['b->a AppRes t2 ok match=5 prev=1 seq=0']);

    // Success switches b to replicate; with a's own write, b makes a quorum: 5 commits.
    a.step(pick(ok, 'AppendEntriesRes', 'a'));
    expect(flush(a)!.committed).toEqual([2, 3, 4, 5]);

    // Replicate: each proposal streams at once, until two are unacknowledged.
    a.propose([{ data: 'y' }]);
    a.propose([{ data: 'z' }]);
    a.propose([{ data: 'w' }]);
    const stream = flush(a)!;
    expect(stream.now.filter((l) => l.startsWith('a->b'))).toEqual(['a->b App t2 prev=5/2 [6/2] commit=5 seq=0', 'a->b App t2 prev=6/2 [7/2] commit=5 seq=0']);
    // A heartbeat still goes out while paused, and carries nothing.
    a.tick();
    expect(flush(a)!.now.filter((l) => l.startsWith('a->b'))).toEqual(['a->b App t2 prev=7/2 [] commit=5 seq=0']);

    // The first acknowledgement frees a slot: the held-back entry follows.
    a.step({ type: 'AppendEntriesRes', from: 'b', to: 'a', term: 2, success: true, matchIndex: 6, prevLogIndex: 5, conflictIndex: 0, conflictTerm: 0, readSeq: 0 });
    const more = flush(a)!;
    expect(more.now).toEqual(['a->b App t2 prev=7/2 [8/2] commit=6 seq=0']);
  });

  it('a rejection from a follower with a conflicting suffix skips the whole conflicting term', () => {
    // a: terms 1 1 3 3 (leading term 4 after its no-op 5/4); b: terms 1 1 2 2 2 2.
    const a = node('a', { hardState: { term: 3, votedFor: null, commitIndex: 2 }, entries: logOf(1, 1, 3, 3), appliedIndex: 2 });
    const lead = elect(a, 'c');
    expect(lead.now[0]).toBe('a->b App t4 prev=4/3 [5/4] commit=2 seq=0');
    const b = node('b', { hardState: { term: 3, votedFor: null, commitIndex: 2 }, entries: logOf(1, 1, 2, 2, 2, 2), appliedIndex: 2 });
    b.step(pick(lead, 'AppendEntries', 'b'));
    const rej = flush(b)!;
    // b's entry at 4 is of term 2, whose run starts at 3.
    expect(rej.afterPersist).toEqual(['b->a AppRes t4 reject prev=4 hint=3/2 seq=0']);
    a.step(pick(rej, 'AppendEntriesRes', 'a'));
    const retry = flush(a)!;
    // a holds no term 2 at all: back to 3 in one step, not one index at a time.
    expect(retry.now).toEqual(['a->b App t4 prev=2/1 [3/3 4/3 5/4] commit=2 seq=0']);
    b.step(pick(retry, 'AppendEntries', 'b'));
    expect(flush(b)!.afterPersist).toEqual(['b->a AppRes t4 ok match=5 prev=2 seq=0']);
  });

  it('a stale rejection, for a probe no longer outstanding, is ignored', () => {
    const a = node('a', { hardState: { term: 1, votedFor: null, commitIndex: 1 }, entries: logOf(1, 1, 1), appliedIndex: 1 });
    elect(a, 'c');
    a.step({ type: 'AppendEntriesRes', from: 'b', to: 'a', term: 2, success: false, matchIndex: 0, prevLogIndex: 3, conflictIndex: 2, conflictTerm: 0, readSeq: 0 });
    expect(flush(a)!.now).toEqual(['a->b App t2 prev=1/1 [2/1 3/1 4/2] commit=1 seq=0']);
    // The same rejection again (a duplicate) names a prevLogIndex no longer probed.
    a.step({ type: 'AppendEntriesRes', from: 'b', to: 'a', term: 2, success: false, matchIndex: 0, prevLogIndex: 3, conflictIndex: 2, conflictTerm: 0, readSeq: 0 });
    expect(flush(a)).toBeNull();
  });
});
