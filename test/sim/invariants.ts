import { confStatesEqual, decodeConfEntry } from '../../src/raft/conf-change.ts';
import type { EntrySize } from '../../src/raft/log.ts';
import { quorum } from '../../src/raft/quorum.ts';
import type { ConfState, Entry, Message, SnapshotMeta } from '../../src/raft/types.ts';
import type { Raft } from '../../src/raft/raft.ts';
import { durableHolds, durableLastIndex, durableTerm, type DurableState } from './node.ts';

/** Whether `holders` include a majority of `voters` (trivially, of none). */
function majorityOf(voters: readonly string[], holders: ReadonlySet<string>): boolean {
  return voters.length === 0 || voters.filter((v) => holders.has(v)).length >= quorum(voters.length);
}

/** A majority of C_new and, while joint, one of C_old (Raft §6). */
function jointMajority(cs: ConfState, holders: ReadonlySet<string>): boolean {
  return majorityOf(cs.voters, holders) && majorityOf(cs.votersOutgoing, holders);
}

function showConf(cs: ConfState): string {
  return `voters [${cs.voters.join(',')}]${cs.votersOutgoing.length ? ` outgoing [${cs.votersOutgoing.join(',')}]` : ''}${cs.learners.length ? ` learners [${cs.learners.join(',')}]` : ''}`;
}

/**
 * Raft's safety properties (Figure 3 of the paper), checked incrementally after every
 * simulated step so a violation is reported at the step that caused it. They allow for
 * log compaction (§7): a snapshot stands for every entry up to its index. Majorities are
 * counted against the configuration in force (both halves of a joint one, §6), worked
 * out here from the entries rather than taken from the core where it can be.
 */
export class Invariants {
  /** The cluster's first configuration (before any config entry). */
  initialConf: ConfState | null = null;
  /** Also check, after every step, that each node uses the latest configuration in its log (SimOptions.checkConf). */
  checkConf = false;
  /** "term:candidate" -> who sent it a granted (real) vote: an election's majority is checked against them. */
  private grants = new Map<string, Set<string>>();
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
    // The votes that elected it: a majority of the voters (of each half, while joint) of
    // the configuration in force at the leader, which must be the latest in its log.
    const conf = raft.confState();
    const voters = new Set([id, ...(this.grants.get(`${term}:${id}`) ?? [])]);
    if (!jointMajority(conf, voters)) fail(`Election: ${id} leads term ${term} with the votes of ${[...voters].join(', ')} only, under ${showConf(conf)}`);
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
    // A snapshot carries the configuration in force at its index (§7).
    const conf = this.confAppliedAt(snap.index);
    if (conf && snap.conf && !confStatesEqual(conf, snap.conf)) fail(`${id} ${how} a snapshot at ${snap.index} with ${showConf(snap.conf)}, but ${showConf(conf)} was in force there`);
    if (conf && this.initialConf && !snap.conf) fail(`${id} ${how} a snapshot at ${snap.index} without its configuration`);
  }

  /**
   * The configuration in force at `index` by what was applied: the last config entry
   * applied at or below it, else the first configuration; null when some index below it
   * was never seen applied (it was compacted before this run could record it).
   */
  confAppliedAt(index: number): ConfState | null {
    for (let i = index; i >= 1; i--) {
      const e = this.applied.get(i);
      if (!e) return null;
      if (e.kind === 'config') return decodeConfEntry(e.data).conf;
    }
    return this.initialConf;
  }

  /**
   * A node uses the latest configuration in its log, committed or not (§6): that of its
   * last config entry, or else the one its log starts from: its snapshot's (by what was
   * applied up to there), or `baseConf` (its first) without a snapshot.
   */
  confInForce(id: string, raft: Raft, baseConf: ConfState): void {
    const log = raft.log;
    for (let i = log.lastIndex(); i >= log.firstIndex(); i--) {
      const [e] = log.slice(i, i);
      if (e.kind !== 'config') continue;
      const conf = decodeConfEntry(e.data).conf;
      if (!confStatesEqual(conf, raft.confState())) fail(`${id} uses ${showConf(raft.confState())}, but the last config entry in its log (${i}) says ${showConf(conf)}`);
      return;
    }
    const base = log.snapshotIndex > 0 ? this.confAppliedAt(log.snapshotIndex) : baseConf;
    if (base && !confStatesEqual(base, raft.confState())) fail(`${id} uses ${showConf(raft.confState())}, but its log starts from snapshot ${log.snapshotIndex}, where ${showConf(base)} was in force`);
  }

  private digest(id: string, index: number, digest: string, how: string): void {
    const prior = this.digests.get(index);
    if (prior === undefined) this.digests.set(index, digest);
    else if (prior !== digest) fail(`State Machine Safety: ${id}'s state at ${index} (${how}) differs from another node's there`);
  }

  /**
   * After every step of a leader: each index it committed in this term is durable, with the
   * leader's entry, on a majority of the voters right now (of each half, while joint: the
   * configuration in force at the leader, §6; a commit counted on a follower's match that
   * its disk no longer holds breaks this, and so does one counted on a learner); each
   * follower's window of unacknowledged AppendEntries holds under maxInflightBytes plus
   * one message.
   */
  leaderCommitted(id: string, raft: Raft, durableOf: (id: string) => DurableState | undefined): void {
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
      const conf = raft.confState();
      const holders = new Set([...conf.voters, ...conf.votersOutgoing].filter((p) => {
        const d = durableOf(p);
        return d !== undefined && durableHolds(d, i, term);
      }));
      if (!jointMajority(conf, holders)) {
        fail(`Commit durability: ${id} committed index ${i} (term ${term}) but only ${[...holders].join(', ') || 'no voter'} hold it on disk, under ${showConf(conf)}`);
      }
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
      const key = `${m.term}:${m.to}`;
      if (!this.grants.has(key)) this.grants.set(key, new Set());
      this.grants.get(key)!.add(m.from);
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
