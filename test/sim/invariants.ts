import type { EntrySize } from '../../src/raft/log.ts';
import { quorum } from '../../src/raft/quorum.ts';
import type { Entry, Message, SnapshotMeta } from '../../src/raft/types.ts';
import type { Raft } from '../../src/raft/raft.ts';
import { durableHolds, durableLastIndex, durableTerm, type DurableState } from './node.ts';

/**
 * Raft's safety properties (Figure 3 of the paper), checked incrementally after every
 * simulated step so a violation is reported at the step that caused it. They allow for
 * log compaction (§7): a snapshot stands for every entry up to its index.
 */
export class Invariants {
  private leaderOfTerm = new Map<number, string>();
  /** index -> the entry every node applied there (State Machine Safety). */
  private applied = new Map<number, Entry>();
  /** index -> the state machine's digest after applying 1..index, the same on every node. */
  private digests = new Map<number, string>();
  /** "index:term" -> what a log holds there and the term before it (Log Matching). */
  private logged = new Map<string, { data: string; prevTerm: number }>();
  /** Replication's byte bounds, when the cluster sets them. */
  limits: { maxSizePerMsg: number; maxInflightBytes: number; entrySize: EntrySize } | null = null;
  /** The largest single entry sent so far: the one message a window may go past its bound with. */
  private biggestMessage = 0;
  /** Per leader and term: the commit index already checked. */
  private checkedCommit = new Map<string, number>();

  leader(term: number, id: string, raft: Raft): void {
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== id) fail(`Election Safety: ${other} and ${id} both lead term ${term}`);
    if (other !== undefined) return;
    this.leaderOfTerm.set(term, id);
    // Leader Completeness: a new leader holds every entry committed before its term, in
    // its log or in the snapshot its log starts from (checked against what others
    // applied when it was taken or installed).
    const start = raft.log.snapshotIndex;
    for (const [index, e] of this.applied) {
      if (index < start) continue;
      if (raft.log.term(index) !== e.term) fail(`Leader Completeness: ${id} leads term ${term} without committed entry ${index} (term ${e.term})`);
    }
  }

  /** Log Matching over the entries a node wrote (only those it still holds count). */
  persisted(id: string, entries: Entry[], durable: DurableState): void {
    for (const e of entries) {
      const prevTerm = durableTerm(durable, e.index - 1) ?? -1;
      const key = `${e.index}:${e.term}`;
      const seen = this.logged.get(key);
      const data = `${e.kind}/${e.data}`;
      if (!seen) this.logged.set(key, { data, prevTerm });
      else if (seen.data !== data || seen.prevTerm !== prevTerm) fail(`Log Matching: ${id} holds a different entry at index ${e.index} term ${e.term}`);
    }
  }

  /** `digest`: the node's state machine digest after applying `e`. */
  apply(id: string, lastApplied: number, e: Entry, digest?: string): void {
    if (e.index !== lastApplied + 1) fail(`${id} applied index ${e.index} after ${lastApplied}: applies must go 1, 2, 3, ...`);
    const prior = this.applied.get(e.index);
    if (!prior) this.applied.set(e.index, e);
    else if (prior.term !== e.term || prior.data !== e.data || prior.kind !== e.kind) {
      fail(`State Machine Safety: ${id} applied ${JSON.stringify(e)} at ${e.index}, another node applied ${JSON.stringify(prior)}`);
    }
    if (digest !== undefined) this.digest(id, e.index, digest, 'after applying');
  }

  /**
   * State Machine Safety for snapshots: one that a node took or installed stands for
   * exactly what every node applied up to its index (same last term, same state).
   */
  snapshot(id: string, snap: SnapshotMeta, digest: string, how: string): void {
    const e = this.applied.get(snap.index);
    if (!e) fail(`${id} ${how} a snapshot at ${snap.index}, which no node applied`);
    if (e.term !== snap.term) fail(`State Machine Safety: ${id} ${how} a snapshot at ${snap.index} of term ${snap.term}, but the entry applied there has term ${e.term}`);
    this.digest(id, snap.index, digest, `${how} a snapshot`);
  }

  private digest(id: string, index: number, digest: string, how: string): void {
    const prior = this.digests.get(index);
    if (prior === undefined) this.digests.set(index, digest);
    else if (prior !== digest) fail(`State Machine Safety: ${id}'s state at ${index} (${how}) differs from another node's there`);
  }

  /**
   * After every step of a leader: each index it committed in this term is durable, with the
   * leader's entry, on a majority of the nodes right now (a commit counted on a follower's
   * match that its disk no longer holds breaks this); each follower's window of
   * unacknowledged AppendEntries holds under maxInflightBytes plus one message.
   */
  leaderCommitted(id: string, raft: Raft, durableOf: (id: string) => DurableState, size: number): void {
    const key = `${id}:${raft.softState().term}`;
    const commit = raft.log.commitIndex;
    const progress = raft.status().progress ?? {};
    // What it knew committed when it took office was committed by earlier leaders.
    if (!this.checkedCommit.has(key)) this.checkedCommit.set(key, commit);
    for (let i = this.checkedCommit.get(key)! + 1; i <= commit; i++) {
      // Below the start of its log the leader compacted what it applied (the same everywhere).
      const term = i >= raft.log.snapshotIndex ? raft.log.term(i) : this.applied.get(i)?.term;
      if (term === undefined) fail(`${id} committed index ${i}, compacted it, but no node applied it`);
      // A snapshot holds what it covers: checked against what was applied when it was taken or installed.
      const holders = [id, ...Object.keys(progress)].filter((p) => durableHolds(durableOf(p), i, term));
      if (holders.length < quorum(size)) fail(`Commit durability: ${id} committed index ${i} (term ${term}) but only ${holders.join(', ') || 'no node'} hold it on disk`);
    }
    this.checkedCommit.set(key, commit);
    if (!this.limits || this.limits.maxInflightBytes === 0) return;
    for (const [peer, pr] of Object.entries(progress)) {
      const bound = this.limits.maxInflightBytes + Math.max(this.limits.maxSizePerMsg, this.biggestMessage);
      if (pr.inflightBytes >= bound) fail(`${id} has ${pr.inflightBytes} bytes in flight to ${peer}: maxInflightBytes is ${this.limits.maxInflightBytes}`);
    }
  }

  /** A vote or an AppendEntries success may leave only once what it promises is durable. */
  sent(m: Message, durable: DurableState): void {
    if (m.type === 'AppendEntries' && this.limits) {
      const bytes = m.entries.reduce((n, e) => n + this.limits!.entrySize(e), 0);
      if (m.entries.length > 1 && bytes > this.limits.maxSizePerMsg) fail(`${m.from} sent ${m.entries.length} entries of ${bytes} bytes to ${m.to}: maxSizePerMsg is ${this.limits.maxSizePerMsg}`);
      this.biggestMessage = Math.max(this.biggestMessage, bytes);
    }
    if (m.type === 'RequestVoteRes' && m.voteGranted && !m.preVote) {
      const hs = durable.hardState;
      if (hs.term < m.term || (hs.term === m.term && hs.votedFor !== m.to)) {
        fail(`${m.from} granted its term-${m.term} vote to ${m.to} before persisting it (durable: ${JSON.stringify(hs)})`);
      }
    }
    if ((m.type === 'AppendEntriesRes' || m.type === 'InstallSnapshotRes') && m.success && m.matchIndex > durableLastIndex(durable)) {
      fail(`${m.from} acknowledged index ${m.matchIndex} (${m.type}) but only ${durableLastIndex(durable)} is durable`);
    }
    if (m.type === 'RequestVote' && !m.preVote && (durable.hardState.term < m.term || (durable.hardState.term === m.term && durable.hardState.votedFor !== m.from))) {
      fail(`${m.from} asked for votes in term ${m.term} before persisting its own vote`);
    }
  }

  committedEntries(): Map<number, Entry> {
    return this.applied;
  }
}

export class InvariantViolation extends Error {}

function fail(message: string): never {
  throw new InvariantViolation(message);
}
