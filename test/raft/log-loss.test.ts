import { describe, expect, it } from 'vitest';
import { Raft } from '../../src/raft/raft.ts';
import { seededRng } from '../../src/raft/rng.ts';
import type { Entry, Message } from '../../src/raft/types.ts';
import { SimCluster } from '../sim/cluster.ts';
import { seeds, withSeed } from '../sim/seed.ts';

describe('a follower whose disk lost acknowledged entries', () => {
  it('the leader stops counting its old match once it answers from a new life, and commits only what a majority holds', () => {
    for (const seed of seeds(7500, 10)) {
      withSeed(seed, () => {
        // 5 nodes: the leader L, A that acknowledges everything, B that falls behind, C and D
        // down. Without check-quorum, L keeps leading while it hears from A alone.
        const c = new SimCluster({ seed, size: 5, checkQuorum: false });
        const leader = c.waitForLeader();
        const [a, b, down1, down2] = c.ids.filter((id) => id !== leader);
        c.one('first=1', 5);
        c.crash(down1);
        c.crash(down2);
        c.isolate(b);
        // L and A alone: 2 of 5, nothing commits, but A acknowledges all of it.
        const proposed: number[] = [];
        for (let i = 0; i < 10; i++) proposed.push(c.propose(`p${i}=x`)!.index);
        c.run(200);
        const last = proposed.at(-1)!;
        expect(c.raft(leader).status().progress![a].matchIndex).toBe(last);
        expect(c.raft(leader).log.commitIndex).toBeLessThan(proposed[0]);
        // A's disk loses the tail it acknowledged; it restarts without noticing (no watermark).
        c.crash(a);
        c.loseLogTail(a, proposed[0] - 1);
        c.restart(a);
        c.run(100);
        // B returns. With A's stale match counted, L would commit with copies on L and B
        // alone: the invariants (commit durable on a majority) would fail right there.
        c.reconnect(b);
        c.runUntil(() => c.raft(leader).log.commitIndex >= last, 5_000, 'the entries to commit');
        // They committed because A took them again: it holds them now.
        expect(c.nodes.get(a)!.durable.entries.length).toBeGreaterThanOrEqual(last);
      });
    }
  });

  it('a rejection from a newer life below matchIndex puts the follower back to probe at its real end', () => {
    const peers = ['a', 'b', 'c'];
    const lead = new Raft({ id: 'a', peers, electionTick: 10, heartbeatTick: 1, rng: seededRng(1), preVote: false });
    const out: Message[] = [];
    const pump = () => {
      for (let rd = lead.ready(); rd; rd = lead.ready()) {
        out.push(...rd.messages);
        out.push(...lead.advance(rd));
      }
    };
    lead.campaignNow();
    pump();
    lead.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: true, preVote: false });
    for (let i = 0; i < 20; i++) lead.propose([{ data: `x${i}` }]);
    pump();
    const ack = (matchIndex: number, incarnation: number) =>
      lead.step({ type: 'AppendEntriesRes', from: 'b', to: 'a', term: 1, success: true, matchIndex, prevLogIndex: 0, conflictIndex: 0, conflictTerm: 0, readSeq: 0, incarnation });
    const reject = (prevLogIndex: number, lastIndex: number, incarnation: number) =>
      lead.step({ type: 'AppendEntriesRes', from: 'b', to: 'a', term: 1, success: false, matchIndex: 0, prevLogIndex, conflictIndex: lastIndex + 1, conflictTerm: 0, readSeq: 0, incarnation });
    ack(21, 5);
    expect(lead.status().progress!.b.matchIndex).toBe(21);
    expect(lead.log.commitIndex).toBe(21);
    // A late rejection from the same life is stale: ignored.
    reject(15, 10, 5);
    expect(lead.status().progress!.b).toMatchObject({ matchIndex: 21, state: 'replicate' });
    // A reply from an earlier life is stale too, even a success.
    ack(25, 4);
    expect(lead.status().progress!.b.matchIndex).toBe(21);
    // b restarted with its log cut at 10: its rejection, below matchIndex, is news.
    out.length = 0;
    reject(21, 10, 6);
    pump();
    expect(lead.status().progress!.b).toMatchObject({ matchIndex: 0, nextIndex: 11, state: 'probe' });
    const probe = out.find((m) => m.type === 'AppendEntries' && m.to === 'b');
    expect(probe).toMatchObject({ prevLogIndex: 10 });
    // The commit index never moves back; new entries need b's fresh acknowledgement (or c's).
    expect(lead.log.commitIndex).toBe(21);
    lead.propose([{ data: 'after' }]);
    pump();
    expect(lead.log.commitIndex).toBe(21);
    ack(22, 6);
    expect(lead.log.commitIndex).toBe(22);
  });
});

describe('a node rejoined empty (catchUpIndex)', () => {
  const entries: Entry[] = [];

  it('grants no vote or pre-vote and does not campaign until its log reaches catchUpIndex', () => {
    const b = new Raft({ id: 'b', peers: ['a', 'b', 'c'], electionTick: 10, heartbeatTick: 1, rng: seededRng(2), hardState: { term: 3, votedFor: 'a', commitIndex: 0 }, entries, catchUpIndex: 5, checkQuorum: false });
    for (let i = 0; i < 100; i++) b.tick();
    expect(b.status().role).toBe('follower');
    expect(b.ready()?.messages ?? []).toEqual([]);
    b.step({ type: 'RequestVote', from: 'c', to: 'b', term: 4, lastLogIndex: 2, lastLogTerm: 3, preVote: true });
    b.step({ type: 'RequestVote', from: 'c', to: 'b', term: 4, lastLogIndex: 2, lastLogTerm: 3, preVote: false });
    const rd = b.ready()!;
    const votes = b.advance(rd).filter((m) => m.type === 'RequestVoteRes');
    expect(votes).toHaveLength(2);
    expect(votes.every((m) => m.type === 'RequestVoteRes' && !m.voteGranted)).toBe(true);
    // Refilled by a leader up to 5: it votes again.
    const log = Array.from({ length: 5 }, (_, i): Entry => ({ index: i + 1, term: 3, kind: 'command', data: `e${i + 1}` }));
    b.step({ type: 'AppendEntries', from: 'a', to: 'b', term: 4, prevLogIndex: 0, prevLogTerm: 0, entries: log, leaderCommit: 5, readSeq: 0 });
    b.advance(b.ready()!);
    b.step({ type: 'RequestVote', from: 'c', to: 'b', term: 5, lastLogIndex: 5, lastLogTerm: 3, preVote: false });
    const granted = b.advance(b.ready()!).find((m) => m.type === 'RequestVoteRes');
    expect(granted).toMatchObject({ voteGranted: true, term: 5 });
  });

  it('cannot help elect a leader missing entries it once helped commit', () => {
    for (const seed of seeds(7600, 10)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 3 });
        const leader = c.waitForLeader();
        const [behind, helper] = c.ids.filter((id) => id !== leader);
        c.one('a=1', 3);
        // Commits with the leader and `helper` only; `behind` misses them.
        c.crash(behind);
        let last = 0;
        for (let i = 0; i < 10; i++) last = c.one(`k${i}=${i}`, 2);
        // helper's log is lost; it rejoins empty. The leader dies; `behind` returns.
        c.crash(helper);
        c.rejoinEmpty(helper);
        c.crash(leader);
        c.restart(helper);
        c.restart(behind);
        // behind cannot win: helper refuses its votes while it is refilling (and the
        // invariants' Leader Completeness check would fail the moment it did).
        c.run(3_000);
        expect(c.leaders()).toEqual([]);
        // The old leader comes back: it has everything, wins, and refills helper.
        c.restart(leader);
        const next = c.waitForLeader(10_000);
        expect(next).toBe(leader);
        const idx = c.one('after=1', 3);
        expect(idx).toBeGreaterThan(last);
        c.runUntil(() => c.nodes.get(helper)!.durable.appliedIndex >= idx, 5_000, 'helper to refill');
        expect(c.nodes.get(helper)!.durable.kv.get('k9')).toBe('9');
      });
    }
  });
});
