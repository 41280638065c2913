import type { Tracer } from '../../tracing/tracer.ts';
import { RaftLog } from './log.ts';
import { Progress } from './progress.ts';
import { quorum, quorumIndex } from './quorum.ts';
import { ReadIndexQueue } from './read-index.ts';
import type { Rng } from './rng.ts';
import { RaftTrace } from './trace.ts';
import type {
  AppendEntries,
  AppendEntriesRes,
  Entry,
  HardState,
  Message,
  ReadState,
  Ready,
  RequestVote,
  RequestVoteRes,
  Role,
  SoftState,
} from './types.ts';

export interface RaftConfig {
  id: string;
  /** Every voter in the cluster, this node included. */
  peers: string[];
  /** Ticks without hearing from a leader before campaigning (randomized up to 2x). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be well below electionTick. */
  heartbeatTick: number;
  rng: Rng;
  /** What this node persisted before it last stopped. */
  hardState?: HardState;
  entries?: Entry[];
  /** Highest index the caller's state machine already holds (restart without replay). */
  appliedIndex?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  maxInflight?: number;
  maxEntriesPerMessage?: number;
  tracer?: Tracer;
  /** Also trace heartbeats that carry nothing new (off by default: logs stay small). */
  traceHeartbeats?: boolean;
}

export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; leaderId: string | null };

/**
 * The Raft consensus algorithm as a deterministic state machine (the etcd-io/raft
 * design): no timers, sockets, files or wall clock. The caller feeds it tick(), step(),
 * propose() and readIndex(), and drains ready() / advance().
 */
export class Raft {
  readonly id: string;
  private readonly peers: string[];
  private readonly others: string[];
  private readonly cfg: Required<Pick<RaftConfig, 'electionTick' | 'heartbeatTick' | 'preVote' | 'checkQuorum' | 'maxInflight' | 'maxEntriesPerMessage'>>;
  private readonly rng: Rng;
  private readonly trace: RaftTrace | null;

  term = 0;
  votedFor: string | null = null;
  role: Role = 'follower';
  leaderId: string | null = null;
  readonly log: RaftLog;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private votes = new Map<string, boolean>();
  private progress = new Map<string, Progress>();
  private reads = new ReadIndexQueue();

  /** Sendable now: the leader's AppendEntries depend on nothing unpersisted (§10.2.1). */
  private msgs: Message[] = [];
  /** Votes, vote requests and replies: released by advance() once persisted. */
  private msgsAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  private persistedHardState: HardState;
  private inflightReady: { ready: Ready; afterPersist: Message[] } | null = null;

  constructor(config: RaftConfig) {
    if (!config.peers.includes(config.id)) throw new Error(`peers must include this node (${config.id})`);
    if (config.heartbeatTick >= config.electionTick) throw new Error('heartbeatTick must be less than electionTick');
    this.id = config.id;
    this.peers = [...config.peers];
    this.others = this.peers.filter((p) => p !== this.id);
    this.rng = config.rng;
    this.cfg = {
      electionTick: config.electionTick,
      heartbeatTick: config.heartbeatTick,
      preVote: config.preVote ?? true,
      checkQuorum: config.checkQuorum ?? true,
      maxInflight: config.maxInflight ?? 64,
      maxEntriesPerMessage: config.maxEntriesPerMessage ?? 256,
    };
    const hs = config.hardState ?? { term: 0, votedFor: null, commitIndex: 0 };
    this.log = new RaftLog(config.entries ?? [], hs.commitIndex, config.appliedIndex ?? 0);
    this.term = hs.term;
    this.votedFor = hs.votedFor;
    if (this.log.lastTerm() > this.term) {
      // The log reached disk but the hard state written beside it did not: the term is at
      // least that of the newest entry, and no vote in it was ever sent.
      this.term = this.log.lastTerm();
      this.votedFor = null;
    }
    this.persistedHardState = { ...hs };
    this.trace = config.tracer ? new RaftTrace(config.tracer, config.traceHeartbeats ?? false) : null;
    this.trace?.raftStart(this.id);
    this.resetElectionTimeout();
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.cfg.preVote);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /**
   * The transport saw the link to `peer` break (its process is gone, e.g. kill -9). If
   * that is this follower's leader, stop waiting out the election timeout: forget the
   * leader, which also ends its lease here (this node now grants pre-votes and votes),
   * and campaign within a few ticks, spread at random so the followers that noticed do
   * not all split the vote. Only liveness changes: a leader that is in fact alive keeps
   * its lease at the followers that still hear from it, so they refuse the pre-vote.
   */
  leaderUnreachable(peer: string): void {
    if (this.role === 'leader' || this.leaderId !== peer) return;
    this.leaderId = null;
    // Spread over half an election timeout: wider than a vote's round trip, so one
    // follower usually wins before the other starts, and still well under the timeout.
    const soon = 1 + this.rng.int(0, Math.ceil(this.cfg.electionTick / 2));
    this.electionElapsed = Math.max(this.electionElapsed, this.randomizedElectionTimeout - soon);
  }

  /** Starts an election now, as an election timeout would (tests; leadership transfer). */
  campaignNow(): void {
    if (this.role !== 'leader') this.campaign(this.cfg.preVote);
  }

  /** Appends commands to the leader's log; one call is one batch and one AppendEntries. */
  propose(commands: { data: string; traceId?: string }[]): ProposeResult {
    if (this.role !== 'leader') return { ok: false, leaderId: this.leaderId };
    const first = this.log.lastIndex() + 1;
    this.log.append(
      commands.map((c, k) => ({ index: first + k, term: this.term, kind: 'command' as const, data: c.data, ...(c.traceId ? { traceId: c.traceId } : {}) })),
    );
    this.broadcastAppend();
    this.maybeCommit();
    return { ok: true, index: this.log.lastIndex(), term: this.term };
  }

  /** Asks for a linearizable read point; the answer comes as a ReadState in a Ready. */
  readIndex(ctx: string): void {
    if (this.role !== 'leader') {
      this.readStates.push({ ctx, error: `not leader (leader: ${this.leaderId ?? 'unknown'})` });
      return;
    }
    const committedInTerm = this.log.term(this.log.commitIndex) === this.term;
    this.reads.add(ctx, this.log.commitIndex, committedInTerm);
  }

  step(m: Message): void {
    // Only configured voters take part: a stranger's vote must never count toward a quorum.
    if (!this.others.includes(m.from) || m.to !== this.id) return;
    if (m.term > this.term) {
      if (m.type === 'RequestVote' && this.inLease()) {
        // A leader (or its follower) that heard from a quorum recently ignores disruptors.
        this.trace?.requestVoteRecv(this.id, m);
        return;
      }
      const grantedPreVote = m.type === 'RequestVoteRes' && m.preVote && m.voteGranted;
      if (!(m.type === 'RequestVote' && m.preVote) && !grantedPreVote) {
        const leader = m.type === 'AppendEntries' ? m.from : null;
        this.becomeFollower(m.term, leader);
      }
    } else if (m.term < this.term) {
      this.stepStale(m);
      return;
    }
    switch (m.type) {
      case 'RequestVote':
        return this.handleRequestVote(m);
      case 'RequestVoteRes':
        return this.handleRequestVoteRes(m);
      case 'AppendEntries':
        return this.handleAppendEntries(m);
      case 'AppendEntriesRes':
        return this.handleAppendEntriesRes(m);
    }
  }

  /** A message from an older term: tell its sender the current term so it steps down. */
  private stepStale(m: Message): void {
    if (m.type === 'AppendEntries') {
      this.trace?.appendEntriesRecv(m);
      this.reply({ type: 'AppendEntriesRes', from: this.id, to: m.from, term: this.term, success: false, matchIndex: 0, prevLogIndex: m.prevLogIndex, conflictIndex: 0, conflictTerm: 0, readSeq: m.readSeq }, m);
    } else if (m.type === 'RequestVote') {
      this.trace?.requestVoteRecv(this.id, m);
      this.replyVote(m, false);
    }
  }

  // ---------------------------------------------------------------- elections

  private campaign(preVote: boolean): void {
    if (preVote) {
      this.role = 'preCandidate';
      this.leaderId = null;
    } else {
      this.role = 'candidate';
      this.term++;
      this.votedFor = this.id;
      this.leaderId = null;
    }
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimeout();
    if (this.wonVote()) {
      this.afterVoteWon(preVote);
      return;
    }
    const term = preVote ? this.term + 1 : this.term;
    for (const to of this.others) {
      const m: RequestVote = { type: 'RequestVote', from: this.id, to, term, lastLogIndex: this.log.lastIndex(), lastLogTerm: this.log.lastTerm(), preVote };
      if (this.trace) m.token = this.trace.requestVote(this.id, m);
      this.msgsAfterPersist.push(m);
    }
  }

  private handleRequestVote(m: RequestVote): void {
    this.trace?.requestVoteRecv(this.id, m);
    const upToDate = this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    let grant: boolean;
    if (m.preVote) {
      // Would vote in term m.term: that term is newer and no live leader is known.
      grant = upToDate && m.term > this.term && !this.inLease();
    } else {
      const free = this.votedFor === null || this.votedFor === m.from;
      grant = upToDate && free && this.role !== 'leader';
      if (grant) {
        this.votedFor = m.from;
        this.electionElapsed = 0;
      }
    }
    this.replyVote(m, grant);
  }

  private replyVote(m: RequestVote, voteGranted: boolean): void {
    // A granted pre-vote answers in the term the candidate asked about, so it is not stale.
    const term = m.preVote && voteGranted ? m.term : this.term;
    const res: RequestVoteRes = { type: 'RequestVoteRes', from: this.id, to: m.from, term, voteGranted, preVote: m.preVote };
    if (this.trace) res.token = this.trace.requestVoteRes(this.id, m, voteGranted, term);
    this.msgsAfterPersist.push(res);
  }

  private handleRequestVoteRes(m: RequestVoteRes): void {
    const campaigning = m.preVote ? this.role === 'preCandidate' : this.role === 'candidate';
    // A granted pre-vote speaks of the term we would campaign in; a refusal, of ours.
    const expectedTerm = m.preVote && m.voteGranted ? this.term + 1 : this.term;
    if (!campaigning || m.term !== expectedTerm) return;
    this.trace?.requestVoteResRecv(this.id, m);
    if (!this.votes.has(m.from)) this.votes.set(m.from, m.voteGranted);
    if (this.wonVote()) this.afterVoteWon(m.preVote);
    else if (this.lostVote()) this.becomeFollower(this.term, null);
  }

  private afterVoteWon(preVote: boolean): void {
    if (preVote) this.campaign(false);
    else this.becomeLeader();
  }

  private wonVote(): boolean {
    return [...this.votes.values()].filter((g) => g).length >= quorum(this.peers.length);
  }

  private lostVote(): boolean {
    return [...this.votes.values()].filter((g) => !g).length >= quorum(this.peers.length);
  }

  /** Heard from a leader within the minimum election timeout: a vote now would disrupt it. */
  private inLease(): boolean {
    return this.cfg.checkQuorum && this.leaderId !== null && this.electionElapsed < this.cfg.electionTick;
  }

  // ---------------------------------------------------------------- role changes

  private becomeFollower(term: number, leaderId: string | null): void {
    const wasLeader = this.role === 'leader';
    if (term !== this.term) {
      this.term = term;
      this.votedFor = null;
    }
    this.role = 'follower';
    this.leaderId = leaderId;
    this.electionElapsed = 0;
    this.resetElectionTimeout();
    if (wasLeader) {
      this.progress.clear();
      this.readStates.push(...this.reads.failAll(`leadership lost in term ${this.term}`));
    }
  }

  private becomeLeader(): void {
    this.role = 'leader';
    this.leaderId = this.id;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.reads = new ReadIndexQueue();
    this.progress = new Map(this.others.map((p) => [p, new Progress(this.log.lastIndex(), this.cfg.maxInflight)]));
    this.trace?.leaderElected(this.id, this.term);
    // A no-op of the new term lets earlier-term entries commit (§5.4.2) and ReadIndex start.
    this.log.append([{ index: this.log.lastIndex() + 1, term: this.term, kind: 'noop', data: '' }]);
    this.broadcastAppend();
    this.maybeCommit();
  }

  private resetElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTick + this.rng.int(0, this.cfg.electionTick);
  }

  private quorumActive(): boolean {
    let active = 1;
    for (const pr of this.progress.values()) {
      if (pr.recentActive) active++;
      pr.recentActive = false;
    }
    return active >= quorum(this.peers.length);
  }

  // ---------------------------------------------------------------- replication

  private broadcastAppend(): void {
    for (const [to, pr] of this.progress) {
      const nothingNew = pr.state === 'replicate' && pr.nextIndex > this.log.lastIndex();
      if (!pr.isPaused() && !nothingNew) this.sendAppend(to, pr, false);
    }
  }

  private broadcastHeartbeat(): void {
    for (const [to, pr] of this.progress) {
      pr.heartbeat();
      // Always empty: entries follow the reply, so a dead follower costs one small
      // message per heartbeat, not the same entries again and again.
      this.sendAppend(to, pr, true);
    }
  }

  /** One heartbeat round for every read queued since the last round. */
  private startReadRound(): void {
    if (this.role !== 'leader' || !this.reads.startRound()) return;
    if (this.progress.size === 0) {
      this.readStates.push(...this.reads.confirm(this.reads.currentSeq()));
      return;
    }
    for (const [to, pr] of this.progress) this.sendAppend(to, pr, true);
  }

  private sendAppend(to: string, pr: Progress, emptyOnly: boolean): void {
    const prevLogIndex = pr.nextIndex - 1;
    const entries = emptyOnly ? [] : this.log.slice(pr.nextIndex, this.log.lastIndex(), this.cfg.maxEntriesPerMessage);
    const m: AppendEntries = {
      type: 'AppendEntries',
      from: this.id,
      to,
      term: this.term,
      prevLogIndex,
      prevLogTerm: this.log.term(prevLogIndex),
      entries,
      leaderCommit: this.log.commitIndex,
      readSeq: this.reads.currentSeq(),
    };
    if (this.trace?.wantsAppend(m, pr.sentCommit)) m.token = this.trace.appendEntries(m);
    pr.sentCommit = m.leaderCommit;
    pr.sent(prevLogIndex + entries.length, entries.length);
    this.msgs.push(m);
  }

  private handleAppendEntries(m: AppendEntries): void {
    if (this.role !== 'follower' || this.leaderId !== m.from) this.becomeFollower(m.term, m.from);
    this.electionElapsed = 0;
    if (m.token) this.trace?.appendEntriesRecv(m);
    const base = { type: 'AppendEntriesRes' as const, from: this.id, to: m.from, term: this.term, prevLogIndex: m.prevLogIndex, readSeq: m.readSeq };
    if (m.prevLogIndex > this.log.lastIndex()) {
      this.reply({ ...base, success: false, matchIndex: 0, conflictIndex: this.log.lastIndex() + 1, conflictTerm: 0 }, m);
      return;
    }
    const localTerm = this.log.term(m.prevLogIndex);
    if (m.prevLogIndex > 0 && localTerm !== m.prevLogTerm) {
      this.reply({ ...base, success: false, matchIndex: 0, conflictIndex: this.log.firstIndexOfTerm(m.prevLogIndex), conflictTerm: localTerm }, m);
      return;
    }
    this.log.mergeFromLeader(m.entries);
    const lastNew = m.prevLogIndex + m.entries.length;
    const commit = Math.min(m.leaderCommit, lastNew);
    if (commit > this.log.commitIndex) this.log.commitIndex = commit;
    this.reply({ ...base, success: true, matchIndex: lastNew, conflictIndex: 0, conflictTerm: 0 }, m);
  }

  private reply(res: AppendEntriesRes, req: AppendEntries): void {
    if (req.token && this.trace) res.token = this.trace.appendEntriesRes(res, req);
    this.msgsAfterPersist.push(res);
  }

  private handleAppendEntriesRes(m: AppendEntriesRes): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (!pr) return;
    if (m.token) this.trace?.appendEntriesResRecv(m);
    pr.recentActive = true;
    if (m.readSeq > pr.ackedReadSeq) {
      pr.ackedReadSeq = m.readSeq;
      this.readStates.push(...this.reads.confirm(this.quorumReadSeq()));
    }
    if (m.success) {
      if (pr.acknowledge(m.matchIndex)) this.maybeCommit();
      if (pr.nextIndex <= this.log.lastIndex() && !pr.isPaused()) this.sendAppend(m.from, pr, false);
      return;
    }
    // Stale rejections (for positions already known to match, or for a probe no longer
    // outstanding) carry no news.
    if (m.prevLogIndex <= pr.matchIndex) return;
    if (pr.state === 'probe' && m.prevLogIndex !== pr.nextIndex - 1) return;
    let next = m.conflictIndex;
    if (m.conflictTerm > 0) {
      const last = this.log.lastIndexOfTerm(m.conflictTerm);
      if (last > 0) next = last + 1;
    }
    pr.rejectTo(Math.min(next, m.prevLogIndex));
    this.sendAppend(m.from, pr, false);
  }

  private quorumReadSeq(): number {
    const acked = [this.reads.currentSeq(), ...[...this.progress.values()].map((p) => p.ackedReadSeq)];
    return quorumIndex(acked);
  }

  /** Advance commitIndex to what a quorum holds, counting only current-term entries (§5.4.2). */
  private maybeCommit(): void {
    if (this.role !== 'leader') return;
    const matches = [this.log.stableIndex, ...[...this.progress.values()].map((p) => p.matchIndex)];
    const index = quorumIndex(matches);
    if (index <= this.log.commitIndex || this.log.term(index) !== this.term) return;
    const from = this.log.commitIndex + 1;
    this.log.commitIndex = index;
    if (this.trace) for (const e of this.log.slice(from, index)) this.trace.commit(e);
    this.reads.releaseWaiting(index);
  }

  // ---------------------------------------------------------------- ready / advance

  softState(): SoftState {
    return { role: this.role, leaderId: this.leaderId, term: this.term };
  }

  /** The leader's view of a follower's log, for status pages; null when not leading. */
  progressOf(peer: string): { matchIndex: number; nextIndex: number } | null {
    const pr = this.progress.get(peer);
    return pr ? { matchIndex: pr.matchIndex, nextIndex: pr.nextIndex } : null;
  }

  hardState(): HardState {
    return { term: this.term, votedFor: this.votedFor, commitIndex: this.log.commitIndex };
  }

  /** True when ready() would hand out work. */
  hasReady(): boolean {
    if (this.inflightReady) return false;
    return (
      (this.role === 'leader' && this.reads.isRoundDue) ||
      this.msgs.length > 0 ||
      this.msgsAfterPersist.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnstable() ||
      this.log.hasCommittedToApply() ||
      !sameHardState(this.hardState(), this.persistedHardState)
    );
  }

  /**
   * The next batch of work, or null. Only one Ready is out at a time: call advance()
   * with it before asking for another.
   */
  ready(): Ready | null {
    if (!this.hasReady()) return null;
    this.startReadRound();
    const hs = this.hardState();
    const changed = !sameHardState(hs, this.persistedHardState);
    const committedEntries = this.log.takeCommitted();
    const ready: Ready = {
      softState: this.softState(),
      hardState: changed ? hs : null,
      entries: this.log.takeUnstable(),
      messages: this.msgs,
      committedEntries,
      readStates: this.readStates,
    };
    this.inflightReady = { ready, afterPersist: this.msgsAfterPersist };
    this.msgs = [];
    this.msgsAfterPersist = [];
    this.readStates = [];
    return ready;
  }

  /**
   * Records the Apply action for an entry of committedEntries as the caller applies it,
   * with what applying it did (e.g. that it was a retried duplicate the state machine
   * answered from its session table without executing it again).
   */
  traceApply(entry: Entry, outcome: Record<string, unknown> = {}): void {
    this.trace?.apply(entry, outcome);
  }

  /**
   * The caller has durably persisted `ready`'s hard state and entries. Returns the
   * messages that had to wait for that (votes, vote requests, AppendEntries replies):
   * they exist nowhere else, so they cannot be sent early by mistake.
   */
  advance(ready: Ready): Message[] {
    if (!this.inflightReady || this.inflightReady.ready !== ready) throw new Error('advance() called with a Ready that is not the outstanding one');
    const { afterPersist } = this.inflightReady;
    this.inflightReady = null;
    if (ready.hardState) this.persistedHardState = { ...ready.hardState };
    if (ready.entries.length > 0) {
      this.log.stableTo(ready.entries);
      // The leader's own durable copy counts toward the quorum.
      this.maybeCommit();
    }
    return afterPersist;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commitIndex === b.commitIndex;
}
