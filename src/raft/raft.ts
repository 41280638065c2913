import { estimateEntrySize, RaftLog, type EntrySize, type ReadonlyRaftLog } from './log.ts';
import { Progress } from './progress.ts';
import { quorum, quorumIndex } from './quorum.ts';
import { ReadIndexQueue } from './read-index.ts';
import type { Rng } from './rng.ts';
import { NoopTraceLogger, type TraceLogger } from './trace-logger.ts';
import type {
  AppendEntries,
  AppendEntriesRes,
  Entry,
  HardState,
  InstallSnapshot,
  InstallSnapshotRes,
  Message,
  PeerStatus,
  ReadState,
  Ready,
  RequestVote,
  RequestVoteRes,
  Role,
  Snapshot,
  SnapshotMeta,
  SoftState,
  Status,
  TraceToken,
} from './types.ts';

/**
 * How to build a node. Time is counted in ticks: the caller decides how long one is
 * (the server: `timing.tickMs` of wall clock; the simulator: virtual ms).
 */
export interface RaftConfig {
  id: string;
  /** Every voter in the cluster, this node included; fixed for the node's life (no membership changes). */
  peers: string[];
  /**
   * Ticks without hearing from a leader before campaigning; each timeout is drawn
   * from [electionTick, 2 * electionTick) so candidates rarely collide (§5.2).
   */
  electionTick: number;
  /** Ticks between leader heartbeats; must be less than electionTick (§5.6: broadcastTime << electionTimeout). */
  heartbeatTick: number;
  /** The only randomness the core uses (election timeouts), so a seed replays a run. */
  rng: Rng;
  /** What this node persisted before it last stopped; none for a fresh node. */
  hardState?: HardState;
  /**
   * The persisted log, contiguous: from index 1, or with a `snapshot` from
   * snapshot.index + 1 or below it (a tail kept below the snapshot is dropped).
   */
  entries?: Entry[];
  /**
   * The latest durable snapshot (its index and term), when the log was compacted: the
   * log starts after it (§7). The caller restores its state machine from it first.
   * Requires `latestSnapshot`.
   */
  snapshot?: SnapshotMeta;
  /**
   * The caller's latest durable snapshot, with its data, or null when none is available
   * right now (the leader tries again at the next heartbeat). The core calls it when a
   * follower needs entries the log no longer holds, and sends what it returns, which must
   * cover at least the start of the log (etcd's Storage.Snapshot()). Needed by compact()
   * and by a log that starts after a snapshot.
   */
  latestSnapshot?: () => Snapshot | null;
  /** Highest index the caller's state machine already holds (restart without replay); at least snapshot.index. */
  appliedIndex?: number;
  /** Pre-vote (thesis §9.6): a partitioned node rejoining cannot force a term change. Default true. */
  preVote?: boolean;
  /**
   * Check-quorum (thesis §6.2): a leader that did not hear from a majority within an
   * election timeout steps down; followers in contact with a leader refuse votes
   * (thesis §4.2.3, the leader lease). Default true.
   */
  checkQuorum?: boolean;
  /** Unacknowledged AppendEntries per follower in replicate state (etcd's MaxInflightMsgs). Default 64. */
  maxInflight?: number;
  /**
   * Bytes (as `entrySize` counts them) of entries in unacknowledged AppendEntries per
   * follower in replicate state (etcd's MaxInflightBytes): no more is sent once the window
   * holds this many, so one message may take it past the bound. 0: no bound. Default
   * 16 MiB (16 * 1024 * 1024).
   */
  maxInflightBytes?: number;
  /** Entries per AppendEntries at most. Default 256. */
  maxEntriesPerMessage?: number;
  /**
   * Bytes (as `entrySize` counts them) of entries per AppendEntries at most (etcd's
   * MaxSizePerMsg), except that a message always carries at least one entry when it has
   * any to carry: an entry bigger than this travels alone. Default 1 MiB (1024 * 1024).
   */
  maxSizePerMsg?: number;
  /**
   * What an entry costs in bytes on the caller's wire (and disk): the size the two
   * limits above count. The core does not know the codec, so a driver that encodes
   * passes the encoded size; measured once per entry as it joins the log. Default: the
   * length of data and trace id plus 16 (an estimate; see estimateEntrySize).
   */
  entrySize?: EntrySize;
  /**
   * A number that grows every time this node starts (a restart counter the caller
   * persists; the server uses the wall clock when it is further on). Carried on every
   * AppendEntries reply, so a leader tells a reply from a restarted follower, whose disk
   * may have lost what it acknowledged, from a stale one. Default 0.
   */
  incarnation?: number;
  /**
   * This node lost log entries it had acknowledged, up to this index, and rejoined with
   * an empty log (raftkv node --rejoin-empty). Until its log reaches this index again it
   * grants no vote or pre-vote and does not campaign: its empty log would otherwise let
   * it help elect a leader missing entries that it once helped commit. Default 0.
   */
  catchUpIndex?: number;
  /** Where to report Raft actions as they happen; none: not traced. */
  traceLogger?: TraceLogger;
}

/** What propose() did: where the batch's last entry landed, or who to ask instead. */
export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; leaderId: string | null };

/**
 * The Raft consensus algorithm as a deterministic state machine (the etcd-io/raft
 * design): no timers, sockets, files or wall clock, and no imports outside src/raft.
 * The caller feeds it tick(), step(), propose() and readIndex(), and drains ready() /
 * advance(); everything it must do (send, persist, apply) comes out of a Ready. With
 * snapshots, the caller also tells it when the log may be compacted (compact()), how
 * a snapshot transfer ended (reportSnapshot()), and hands it the latest snapshot to
 * send (RaftConfig.latestSnapshot).
 */
export class Raft {
  readonly id: string;
  private readonly peers: string[];
  private readonly others: string[];
  private readonly cfg: Required<
    Pick<RaftConfig, 'electionTick' | 'heartbeatTick' | 'preVote' | 'checkQuorum' | 'maxInflight' | 'maxInflightBytes' | 'maxEntriesPerMessage' | 'maxSizePerMsg' | 'incarnation' | 'catchUpIndex'>
  >;
  private readonly rng: Rng;
  private readonly trace: TraceLogger;
  private readonly latestSnapshot: () => Snapshot | null;

  private term = 0;
  private votedFor: string | null = null;
  private role: Role = 'follower';
  private leaderId: string | null = null;
  private readonly raftLog: RaftLog;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private votes = new Map<string, boolean>();
  private progress = new Map<string, Progress>();
  private reads = new ReadIndexQueue();

  /** Sendable now: the leader's AppendEntries depend on nothing unpersisted (thesis §10.2.1). */
  private msgs: Message[] = [];
  /** Votes, vote requests and replies: released by advance() once persisted. */
  private msgsAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  /** The hard state as of the last Ready the caller advanced past (its term and vote are durable). */
  private prevHardState: HardState;
  private inflightReady: { ready: Ready; hardState: HardState; afterPersist: Message[] } | null = null;

  /**
   * Starts a node as a follower of no one, from what it persisted (if anything).
   * Throws if `peers` lacks `id`, if heartbeatTick >= electionTick, if `entries` is
   * not contiguous from index 1 (or from the snapshot), or if a snapshot comes without
   * `latestSnapshot`.
   */
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
      maxInflightBytes: config.maxInflightBytes ?? 16 * 1024 * 1024,
      maxEntriesPerMessage: config.maxEntriesPerMessage ?? 256,
      maxSizePerMsg: config.maxSizePerMsg ?? 1024 * 1024,
      incarnation: config.incarnation ?? 0,
      catchUpIndex: config.catchUpIndex ?? 0,
    };
    if (config.snapshot && config.snapshot.index > 0 && !config.latestSnapshot) throw new Error('a log that starts after a snapshot needs latestSnapshot, to send it to followers');
    this.latestSnapshot = config.latestSnapshot ?? (() => null);
    const hs = config.hardState ?? { term: 0, votedFor: null, commitIndex: 0 };
    this.raftLog = new RaftLog(config.entries ?? [], hs.commitIndex, config.appliedIndex ?? 0, config.snapshot, config.entrySize ?? estimateEntrySize);
    this.term = hs.term;
    this.votedFor = hs.votedFor;
    if (this.raftLog.lastTerm() > this.term) {
      // The log reached disk but the hard state written beside it did not: the term is at
      // least that of the newest entry, and no vote in it was ever sent.
      this.term = this.raftLog.lastTerm();
      this.votedFor = null;
    }
    this.prevHardState = { ...hs };
    this.trace = config.traceLogger ?? new NoopTraceLogger();
    this.trace.raftStart(this.id);
    this.resetElectionTimeout();
  }

  // ---------------------------------------------------------------- inputs

  /**
   * Advances logical time by one tick: a follower or candidate campaigns when its
   * election timeout runs out (§5.2); a leader heartbeats every heartbeatTick and, with
   * check-quorum, steps down after an election timeout without hearing from a majority.
   */
  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    if (this.catchingUp()) {
      // A node rejoined empty waits for a leader to refill its log; it cannot win anyway.
      this.electionElapsed = 0;
      return;
    }
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
   * Does nothing on a leader or when `peer` is not the leader known here.
   */
  leaderUnreachable(peer: string): void {
    if (this.role === 'leader' || this.leaderId !== peer) return;
    this.leaderId = null;
    // Spread over half an election timeout: wider than a vote's round trip, so one
    // follower usually wins before the other starts, and still well under the timeout.
    const soon = 1 + this.rng.int(0, Math.ceil(this.cfg.electionTick / 2));
    this.electionElapsed = Math.max(this.electionElapsed, this.randomizedElectionTimeout - soon);
  }

  /**
   * Starts an election now, as an election timeout would (with a pre-vote first when
   * enabled); does nothing on a leader. For tests and leadership transfer (thesis §3.10).
   */
  campaignNow(): void {
    if (this.role !== 'leader' && !this.catchingUp()) this.campaign(this.cfg.preVote);
  }

  /** Rejoined empty and not yet refilled up to what it had acknowledged (RaftConfig.catchUpIndex). */
  private catchingUp(): boolean {
    return this.raftLog.lastIndex() < this.cfg.catchUpIndex;
  }

  /**
   * Appends `commands` to the leader's log as consecutive entries of its term. One call
   * is one batch: one log append, one Ready's entries (so one fsync) and one
   * AppendEntries per follower. Returns the index and term of the batch's last entry
   * (the first is index - commands.length + 1); on a non-leader appends nothing and
   * returns the leader it knows, if any. The entries may still be lost if leadership
   * changes before they commit: the caller learns their fate from committedEntries,
   * where a different term at that index means they were replaced.
   */
  propose(commands: { data: string; traceId?: string }[]): ProposeResult {
    if (this.role !== 'leader') return { ok: false, leaderId: this.leaderId };
    const first = this.raftLog.lastIndex() + 1;
    this.raftLog.append(
      commands.map((c, k) => ({ index: first + k, term: this.term, kind: 'command' as const, data: c.data, ...(c.traceId ? { traceId: c.traceId } : {}) })),
    );
    this.broadcastAppend();
    this.maybeCommit();
    return { ok: true, index: this.raftLog.lastIndex(), term: this.term };
  }

  /**
   * Asks for a linearizable read point (ReadIndex, thesis §6.4). The answer arrives as a
   * ReadState with this `ctx` in a later Ready: `{ index }` once a quorum has confirmed
   * this node still leads (reads are then served when the state machine has applied
   * `index`), or `{ error }` right away on a non-leader, or when leadership is lost
   * while the read waits. Reads that arrive together share one heartbeat round.
   */
  readIndex(ctx: string): void {
    if (this.role !== 'leader') {
      this.readStates.push({ ctx, error: `not leader (leader: ${this.leaderId ?? 'unknown'})` });
      return;
    }
    const committedInTerm = this.raftLog.term(this.raftLog.commitIndex) === this.term;
    this.reads.add(ctx, this.raftLog.commitIndex, committedInTerm);
  }

  /**
   * Log compaction (§7): the caller's state machine snapshot covering `index` is durable
   * (latestSnapshot() returns it, or a newer one), so the log may forget the entries up
   * to `index`. The caller picks `index`: its snapshot's index, or less to keep a tail
   * for followers that lag a little (they then catch up from the log, not a snapshot).
   * Only memory changes here: the caller trims its durable log itself. A no-op at or
   * below the current start of the log; throws past what was handed out to apply, or
   * when no snapshot covers `index`.
   */
  compact(index: number): void {
    if (index <= this.raftLog.snapshotIndex) return;
    if (index > this.raftLog.appliedIndex) throw new Error(`cannot compact to ${index}: only ${this.raftLog.appliedIndex} was handed out to apply`);
    const snap = this.latestSnapshot();
    if (!snap || snap.index < index) throw new Error(`cannot compact to ${index}: the latest snapshot ${snap ? `is at ${snap.index}` : 'is missing'}`);
    if (snap.index <= this.raftLog.lastIndex() && this.raftLog.term(snap.index) !== snap.term) {
      throw new Error(`the latest snapshot (index ${snap.index}, term ${snap.term}) does not match the log's term ${this.raftLog.term(snap.index)} there`);
    }
    this.raftLog.compact(index);
  }

  /**
   * The transport finished sending an InstallSnapshot to `peer` (`ok`), or failed or gave
   * up on it (etcd's ReportSnapshot). The transport must report every snapshot it takes,
   * one way or the other (with its own deadline): until then, or until the follower
   * answers, the leader sends that follower nothing but heartbeats. After a failure the
   * leader tries again from the next heartbeat the follower answers.
   */
  reportSnapshot(peer: string, ok: boolean): void {
    if (this.role !== 'leader') return;
    this.progress.get(peer)?.snapshotReported(ok);
  }

  /**
   * Feeds in a message from a peer. Silently drops messages from anyone not in `peers`
   * (a stranger's vote must never count toward a quorum), messages whose `to` is not
   * this node, and stale replies; answers a stale request with this node's term so its
   * sender steps down (§5.1). A higher term makes this node a follower in that term,
   * except for pre-votes, which change no one's term (thesis §9.6), and vote requests
   * that arrive within a leader's lease (thesis §4.2.3), which are ignored.
   */
  step(m: Message): void {
    if (!this.others.includes(m.from) || m.to !== this.id) return;
    if (m.term > this.term) {
      if (m.type === 'RequestVote' && this.inLease()) {
        this.trace.requestVoteRecv(m);
        return;
      }
      const grantedPreVote = m.type === 'RequestVoteRes' && m.preVote && m.voteGranted;
      if (!(m.type === 'RequestVote' && m.preVote) && !grantedPreVote) {
        const leader = m.type === 'AppendEntries' || m.type === 'InstallSnapshot' ? m.from : null;
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
      case 'InstallSnapshot':
        return this.handleInstallSnapshot(m);
      case 'InstallSnapshotRes':
        return this.handleInstallSnapshotRes(m);
    }
  }

  /** A message from an older term: tell its sender the current term so it steps down. */
  private stepStale(m: Message): void {
    if (m.type === 'AppendEntries') {
      this.trace.appendEntriesRecv(m);
      this.reply({ type: 'AppendEntriesRes', from: this.id, to: m.from, term: this.term, success: false, matchIndex: 0, prevLogIndex: m.prevLogIndex, conflictIndex: 0, conflictTerm: 0, readSeq: m.readSeq, incarnation: this.cfg.incarnation }, m);
    } else if (m.type === 'RequestVote') {
      this.trace.requestVoteRecv(m);
      this.replyVote(m, false);
    } else if (m.type === 'InstallSnapshot') {
      this.trace.installSnapshotRecv(m);
      this.replySnapshot(m, false);
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
      const m: RequestVote = { type: 'RequestVote', from: this.id, to, term, lastLogIndex: this.raftLog.lastIndex(), lastLogTerm: this.raftLog.lastTerm(), preVote };
      withToken(m, this.trace.requestVote(m));
      this.msgsAfterPersist.push(m);
    }
  }

  private handleRequestVote(m: RequestVote): void {
    this.trace.requestVoteRecv(m);
    // A node refilling its log after losing it cannot judge who is up to date (catchUpIndex).
    const upToDate = this.raftLog.isUpToDate(m.lastLogIndex, m.lastLogTerm) && !this.catchingUp();
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
    withToken(res, this.trace.requestVoteRes(res));
    this.msgsAfterPersist.push(res);
  }

  private handleRequestVoteRes(m: RequestVoteRes): void {
    const campaigning = m.preVote ? this.role === 'preCandidate' : this.role === 'candidate';
    // A granted pre-vote speaks of the term we would campaign in; a refusal, of ours.
    const expectedTerm = m.preVote && m.voteGranted ? this.term + 1 : this.term;
    if (!campaigning || m.term !== expectedTerm) return;
    this.trace.requestVoteResRecv(m);
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

  /** Heard from a leader within the minimum election timeout: a vote now would disrupt it (thesis §4.2.3). */
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
    this.progress = new Map(this.others.map((p) => [p, new Progress(this.raftLog.lastIndex(), this.cfg.maxInflight, this.cfg.maxInflightBytes)]));
    this.trace.leaderElected(this.id, this.term);
    // A no-op of the new term lets earlier-term entries commit (§5.4.2, §8) and ReadIndex start.
    this.raftLog.append([{ index: this.raftLog.lastIndex() + 1, term: this.term, kind: 'noop', data: '' }]);
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
      const nothingNew = pr.state === 'replicate' && pr.nextIndex > this.raftLog.lastIndex();
      if (!pr.isPaused() && !nothingNew) this.sendAppend(to, pr, false);
      this.sendPipelined(to, pr);
    }
  }

  /**
   * In replicate state, keeps sending what the follower lacks until the window is full
   * (message count or bytes): with messages bounded by bytes, one message per reply
   * would leave a follower far behind one round trip per megabyte.
   */
  private sendPipelined(to: string, pr: Progress): void {
    while (pr.state === 'replicate' && !pr.isPaused() && pr.nextIndex <= this.raftLog.lastIndex()) {
      const next = pr.nextIndex;
      // Entries below the log's start send a snapshot (leaving replicate state), or
      // nothing when none is available right now: then stop, and try at the next reply.
      this.sendAppend(to, pr, false);
      if (pr.nextIndex === next) return;
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
    // The entry before nextIndex is compacted away: the follower needs the snapshot. A
    // heartbeat sends none (a dead follower costs no snapshot per heartbeat); the reply
    // to it asks for entries, which sends one.
    const needsSnapshot = pr.nextIndex <= this.raftLog.snapshotIndex;
    if (pr.state === 'snapshot' || (needsSnapshot && emptyOnly)) return this.sendHeartbeatOnly(to, pr);
    if (needsSnapshot) return this.sendSnapshot(to, pr);
    const prevLogIndex = pr.nextIndex - 1;
    const { entries, bytes } = emptyOnly ? { entries: [], bytes: 0 } : this.raftLog.sliceForMessage(pr.nextIndex, this.cfg.maxEntriesPerMessage, this.cfg.maxSizePerMsg);
    const m: AppendEntries = {
      type: 'AppendEntries',
      from: this.id,
      to,
      term: this.term,
      prevLogIndex,
      prevLogTerm: this.raftLog.term(prevLogIndex),
      entries,
      leaderCommit: this.raftLog.commitIndex,
      readSeq: this.reads.currentSeq(),
    };
    withToken(m, this.trace.appendEntries(m, entries.length > 0 || m.leaderCommit !== pr.sentCommit));
    pr.sentCommit = m.leaderCommit;
    pr.sent(prevLogIndex + entries.length, entries.length, bytes);
    this.msgs.push(m);
  }

  /**
   * An AppendEntries that checks nothing (prevLogIndex 0, no entries): it keeps a
   * follower that is receiving a snapshot from campaigning, and carries read rounds.
   */
  private sendHeartbeatOnly(to: string, pr: Progress): void {
    const m: AppendEntries = { type: 'AppendEntries', from: this.id, to, term: this.term, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: this.raftLog.commitIndex, readSeq: this.reads.currentSeq() };
    withToken(m, this.trace.appendEntries(m, false));
    pr.sent(0, 0, 0);
    this.msgs.push(m);
  }

  /** InstallSnapshot (§7) with the driver's latest snapshot; the follower then waits in snapshot state. */
  private sendSnapshot(to: string, pr: Progress): void {
    const snapshot = this.latestSnapshot();
    if (!snapshot) {
      // Temporarily unavailable: try again from the next heartbeat.
      pr.sent(0, 0, 0);
      return;
    }
    if (snapshot.index < this.raftLog.snapshotIndex) {
      throw new Error(`latestSnapshot() returned index ${snapshot.index}, but the log starts after ${this.raftLog.snapshotIndex}`);
    }
    pr.becomeSnapshot(snapshot.index);
    const m: InstallSnapshot = { type: 'InstallSnapshot', from: this.id, to, term: this.term, snapshot };
    withToken(m, this.trace.installSnapshot(m));
    this.msgs.push(m);
  }

  private handleAppendEntries(m: AppendEntries): void {
    if (this.role !== 'follower' || this.leaderId !== m.from) this.becomeFollower(m.term, m.from);
    this.electionElapsed = 0;
    if (m.token) this.trace.appendEntriesRecv(m);
    const base = { type: 'AppendEntriesRes' as const, from: this.id, to: m.from, term: this.term, prevLogIndex: m.prevLogIndex, readSeq: m.readSeq, incarnation: this.cfg.incarnation };
    let { prevLogIndex, prevLogTerm, entries } = m;
    if (prevLogIndex < this.raftLog.snapshotIndex) {
      // This node's snapshot covers prevLogIndex. What it covers is committed, so the
      // leader's log holds the same (§5.4): check and merge from the snapshot on.
      entries = entries.filter((e) => e.index > this.raftLog.snapshotIndex);
      prevLogIndex = this.raftLog.snapshotIndex;
      prevLogTerm = this.raftLog.snapshotTerm;
    }
    if (prevLogIndex > this.raftLog.lastIndex()) {
      this.reply({ ...base, success: false, matchIndex: 0, conflictIndex: this.raftLog.lastIndex() + 1, conflictTerm: 0 }, m);
      return;
    }
    const localTerm = this.raftLog.term(prevLogIndex);
    if (prevLogIndex > 0 && localTerm !== prevLogTerm) {
      this.reply({ ...base, success: false, matchIndex: 0, conflictIndex: this.raftLog.firstIndexOfTerm(prevLogIndex), conflictTerm: localTerm }, m);
      return;
    }
    this.raftLog.mergeFromLeader(entries);
    const lastNew = prevLogIndex + entries.length;
    // Figure 2, AppendEntries rule 5: nothing past what this message proved matches.
    const commit = Math.min(m.leaderCommit, lastNew);
    if (commit > this.raftLog.commitIndex) this.raftLog.commitIndex = commit;
    this.reply({ ...base, success: true, matchIndex: lastNew, conflictIndex: 0, conflictTerm: 0 }, m);
  }

  private reply(res: AppendEntriesRes, req: AppendEntries): void {
    // An untraced request (an idle heartbeat) gets an untraced reply: nothing to pair it with.
    if (req.token) withToken(res, this.trace.appendEntriesRes(res, req));
    this.msgsAfterPersist.push(res);
  }

  private handleAppendEntriesRes(m: AppendEntriesRes): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (!pr) return;
    if (m.token) this.trace.appendEntriesResRecv(m);
    pr.recentActive = true;
    if (m.readSeq > pr.ackedReadSeq) {
      pr.ackedReadSeq = m.readSeq;
      this.readStates.push(...this.reads.confirm(this.quorumReadSeq()));
    }
    const incarnation = m.incarnation ?? 0;
    // A reply from an earlier life of the follower speaks of a disk that may since have
    // lost what it promised; one from a newer life makes the leader doubt every match
    // the follower acknowledged before it restarted. Not a success to a heartbeat that
    // checks nothing: it proves nothing was lost, and the old match it would drop is
    // below the commit index anyway (the next reply that checks something will do).
    if (incarnation < pr.incarnation) return;
    if (incarnation > pr.incarnation && !this.checksNothing(m, pr)) pr.restarted(incarnation);
    if (m.success) {
      if (pr.acknowledge(m.matchIndex)) this.maybeCommit();
      pr.maybeSnapshotDone(this.raftLog.snapshotIndex);
      if (pr.nextIndex <= this.raftLog.lastIndex() && (!pr.isPaused() || this.windowCompacted(pr))) this.sendAppend(m.from, pr, false);
      this.sendPipelined(m.from, pr);
      return;
    }
    // Stale rejections (for positions already known to match, for a probe no longer
    // outstanding, or while a snapshot is under way: only heartbeats that check nothing
    // went out since) carry no news.
    if (m.prevLogIndex <= pr.matchIndex || pr.state === 'snapshot') return;
    if (pr.state === 'probe' && m.prevLogIndex !== pr.nextIndex - 1) return;
    let next = m.conflictIndex;
    if (m.conflictTerm > 0) {
      const last = this.raftLog.lastIndexOfTerm(m.conflictTerm);
      if (last > 0) next = last + 1;
    }
    pr.rejectTo(Math.min(next, m.prevLogIndex));
    this.sendAppend(m.from, pr, false);
  }

  /**
   * In replicate state, the log was compacted past nextIndex: whatever is still in flight,
   * the follower needs a snapshot next. Its replies then answer heartbeats that check
   * nothing (they free no room in the window), so a window full of lost messages would
   * otherwise never drain: send the snapshot at once (it resets the window).
   */
  private windowCompacted(pr: Progress): boolean {
    return pr.state === 'replicate' && pr.nextIndex <= this.raftLog.snapshotIndex;
  }

  /**
   * Whether `m` is a success to a heartbeat that checked nothing (sendHeartbeatOnly:
   * prevLogIndex 0, no entries, sent while a snapshot is under way or needed). Such a
   * reply carries the follower's snapshotIndex or 0 as its matchIndex and proves nothing
   * was lost; the match the leader holds for that follower is then below the log's start,
   * so below the commit index, and cannot count toward a new commit.
   */
  private checksNothing(m: AppendEntriesRes, pr: Progress): boolean {
    if (!m.success || m.prevLogIndex !== 0) return false;
    return pr.state === 'snapshot' || pr.nextIndex <= this.raftLog.snapshotIndex;
  }

  /**
   * InstallSnapshot on a follower (§7). A snapshot no newer than the commit index brings
   * nothing. If the log holds the snapshot's last entry, it keeps its log and commits up
   * to there (step 6, etcd's fast-forward); otherwise the snapshot replaces the whole log
   * (steps 7-8) and goes to the caller in the next Ready to persist and restore. Either
   * way the answer leaves after that Ready is durable.
   */
  private handleInstallSnapshot(m: InstallSnapshot): void {
    if (this.role !== 'follower' || this.leaderId !== m.from) this.becomeFollower(m.term, m.from);
    this.electionElapsed = 0;
    this.trace.installSnapshotRecv(m);
    const { index, term } = m.snapshot;
    if (index > this.raftLog.commitIndex) {
      if (this.raftLog.matchTerm(index, term)) this.raftLog.commitIndex = index;
      else this.raftLog.restore(m.snapshot);
    }
    this.replySnapshot(m, true);
  }

  private replySnapshot(m: InstallSnapshot, success: boolean): void {
    const res: InstallSnapshotRes = {
      type: 'InstallSnapshotRes',
      from: this.id,
      to: m.from,
      term: this.term,
      snapshotIndex: m.snapshot.index,
      success,
      matchIndex: success ? this.raftLog.commitIndex : 0,
      incarnation: this.cfg.incarnation,
    };
    withToken(res, this.trace.installSnapshotRes(res, m));
    this.msgsAfterPersist.push(res);
  }

  private handleInstallSnapshotRes(m: InstallSnapshotRes): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (!pr) return;
    this.trace.installSnapshotResRecv(m);
    pr.recentActive = true;
    if (!m.success) return;
    // As for AppendEntriesRes: an earlier life is stale, a newer one is doubted.
    const incarnation = m.incarnation ?? 0;
    if (incarnation < pr.incarnation) return;
    if (incarnation > pr.incarnation) pr.restarted(incarnation);
    if (pr.acknowledge(m.matchIndex)) this.maybeCommit();
    pr.maybeSnapshotDone(this.raftLog.snapshotIndex);
    if (pr.nextIndex <= this.raftLog.lastIndex() && !pr.isPaused()) this.sendAppend(m.from, pr, false);
    this.sendPipelined(m.from, pr);
  }

  private quorumReadSeq(): number {
    const acked = [this.reads.currentSeq(), ...[...this.progress.values()].map((p) => p.ackedReadSeq)];
    return quorumIndex(acked);
  }

  /** Advance commitIndex to what a quorum holds, counting only current-term entries (§5.4.2). */
  private maybeCommit(): void {
    if (this.role !== 'leader') return;
    // The leader counts only what its own disk holds (thesis §10.2.1).
    const matches = [this.raftLog.stableIndex, ...[...this.progress.values()].map((p) => p.matchIndex)];
    const index = quorumIndex(matches);
    if (index <= this.raftLog.commitIndex || this.raftLog.term(index) !== this.term) return;
    const from = this.raftLog.commitIndex + 1;
    this.raftLog.commitIndex = index;
    for (const e of this.raftLog.slice(from, index)) this.trace.commit(e);
    this.reads.releaseWaiting(index);
  }

  // ---------------------------------------------------------------- observation

  /** Role, leader and term now: cheap enough to call per request. */
  softState(): SoftState {
    return { role: this.role, leaderId: this.leaderId, term: this.term };
  }

  /**
   * A snapshot of everything a status page or a test may want to know (etcd-io/raft's
   * Status); building it copies the leader's progress, so prefer softState() on hot paths.
   */
  status(): Status {
    let progress: Record<string, PeerStatus> | null = null;
    if (this.role === 'leader') {
      progress = {};
      for (const [peer, pr] of this.progress) {
        const inflight = pr.inflightStatus();
        progress[peer] = { matchIndex: pr.matchIndex, nextIndex: pr.nextIndex, state: pr.state, inflight: inflight.messages, inflightBytes: inflight.bytes };
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      leaderId: this.leaderId,
      votedFor: this.votedFor,
      commitIndex: this.raftLog.commitIndex,
      appliedIndex: this.raftLog.appliedIndex,
      lastIndex: this.raftLog.lastIndex(),
      lastTerm: this.raftLog.lastTerm(),
      snapshotIndex: this.raftLog.snapshotIndex,
      firstIndex: this.raftLog.firstIndex(),
      progress,
    };
  }

  /** The log, read-only: for tests and tools that check it entry by entry. */
  get log(): ReadonlyRaftLog {
    return this.raftLog;
  }

  private hardState(): HardState {
    return { term: this.term, votedFor: this.votedFor, commitIndex: this.raftLog.commitIndex };
  }

  // ---------------------------------------------------------------- ready / advance

  /** True when ready() would hand out work; false while a Ready is outstanding. */
  hasReady(): boolean {
    if (this.inflightReady) return false;
    return (
      (this.role === 'leader' && this.reads.isRoundDue) ||
      this.msgs.length > 0 ||
      this.msgsAfterPersist.length > 0 ||
      this.readStates.length > 0 ||
      this.raftLog.hasUnstable() ||
      this.raftLog.hasUnstableSnapshot() ||
      this.raftLog.hasCommittedToApply() ||
      !sameHardState(this.hardState(), this.prevHardState)
    );
  }

  /**
   * The next batch of work (see Ready for what to do with it), or null when there is
   * none. Only one Ready is out at a time: until advance() takes it back, this returns
   * null, so nothing that depends on its persistence can be handed out early.
   */
  ready(): Ready | null {
    if (!this.hasReady()) return null;
    this.startReadRound();
    const hs = this.hardState();
    const prev = this.prevHardState;
    // etcd's MustSync: term and vote must survive a crash (a node must not vote twice
    // in a term, §5.2); the commit index need not, a leader will tell it again.
    const termOrVoteChanged = hs.term !== prev.term || hs.votedFor !== prev.votedFor;
    const snapshot = this.raftLog.takeUnstableSnapshot();
    const committedEntries = this.raftLog.takeCommitted();
    const entries = this.raftLog.takeUnstable();
    const ready: Ready = {
      softState: this.softState(),
      hardState: termOrVoteChanged ? hs : null,
      snapshot,
      entries,
      mustSync: termOrVoteChanged || snapshot !== null || entries.length > 0,
      messages: this.msgs,
      committedEntries,
      readStates: this.readStates,
    };
    this.inflightReady = { ready, hardState: hs, afterPersist: this.msgsAfterPersist };
    this.msgs = [];
    this.msgsAfterPersist = [];
    this.readStates = [];
    return ready;
  }

  /**
   * The caller has durably persisted `ready`'s snapshot, hard state and entries (if mustSync).
   * Returns the messages that had to wait for that (votes, vote requests, AppendEntries
   * replies): they exist nowhere else, so they cannot be sent early by mistake. Throws
   * if `ready` is not the Ready last returned by ready(), or was already advanced.
   */
  advance(ready: Ready): Message[] {
    if (!this.inflightReady || this.inflightReady.ready !== ready) throw new Error('advance() called with a Ready that is not the outstanding one');
    const { afterPersist, hardState } = this.inflightReady;
    this.inflightReady = null;
    this.prevHardState = hardState;
    if (ready.snapshot) this.raftLog.stableSnapTo(ready.snapshot);
    if (ready.entries.length > 0) {
      this.raftLog.stableTo(ready.entries);
      // The leader's own durable copy counts toward the quorum.
      this.maybeCommit();
    }
    return afterPersist;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commitIndex === b.commitIndex;
}

/** Sets the token a TraceLogger returned, leaving untraced messages without one. */
function withToken(m: Message, token: TraceToken | undefined): void {
  if (token !== undefined) m.token = token;
}
