import {
  applyConfChange,
  ConfChangeError,
  confOfVoters,
  decodeConfEntry,
  encodeConfEntry,
  isJoint,
  isVoter,
  LEAVE_JOINT,
  members,
  normalizeConf,
  type ConfChange,
} from './conf-change.ts';
import { estimateEntrySize, RaftLog, type EntrySize, type ReadonlyRaftLog } from './log.ts';
import { Progress } from './progress.ts';
import { jointIndex, jointVote } from './quorum.ts';
import { ReadIndexQueue } from './read-index.ts';
import type { Rng } from './rng.ts';
import { NoopTraceLogger, type TraceLogger } from './trace-logger.ts';
import type {
  AppendEntries,
  AppendEntriesRes,
  ConfState,
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
  TimeoutNow,
  TraceToken,
} from './types.ts';

/**
 * How to build a node. Time is counted in ticks: the caller decides how long one is
 * (the server: `timing.tickMs` of wall clock; the simulator: virtual ms).
 */
export interface RaftConfig {
  id: string;
  /**
   * The cluster's founding voters (every node is given the same list): the first
   * configuration, which no log entry records, in force until the first config entry.
   * Used only when neither `snapshot.conf` nor `conf` is given; the configuration in force
   * is the latest config entry in the log (paper §6), so this list matters only below the
   * first one. A node joining a running cluster passes the founding voters too (without
   * itself: it then never campaigns, and learns its membership from the config entries
   * or the snapshot the leader sends); that keeps right the configuration it records for
   * indexes below its first config entry, should its log start at index 1. Empty or absent
   * (with no `conf`): the empty configuration, which works for a joining node as well,
   * except that snapshots it takes below its first config entry then name no member.
   */
  peers?: string[];
  /** The configuration in force before the first entry of `entries`, when not `peers` (a snapshot's `conf` wins over both). */
  conf?: ConfState;
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
   * The latest durable snapshot (its index, term and configuration), when the log was
   * compacted: the log starts after it (§7). The caller restores its state machine from
   * it first. Requires `latestSnapshot`.
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

/**
 * What propose() or proposeConfChange() did: where the entry (a batch's last) landed; or
 * that nothing was appended, why (`reason`, for people), and the leader this node
 * knows (itself when it leads but refused, e.g. during a leadership transfer).
 */
export type ProposeResult = { ok: true; index: number; term: number } | { ok: false; leaderId: string | null; reason: string };

/** What transferLeadership() did: started (or was already under way), or why not. */
export type TransferResult = { ok: true } | { ok: false; leaderId: string | null; reason: string };

/**
 * A configuration in the log (or the one the log starts from): in force from `index` on
 * until the next one. `entry` false for the base (from a snapshot or RaftConfig), which
 * no entry of the log holds.
 */
interface ConfRecord {
  index: number;
  term: number;
  conf: ConfState;
  entry: boolean;
}

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
  /**
   * The configurations of the log, oldest first: the base the log starts from, then one
   * per config entry, so a truncated entry reverts to the one before (paper §6: a server
   * uses the latest configuration in its log, committed or not). Those a snapshot covers
   * are dropped at compaction, but for the last, which stays in force.
   */
  private confs: ConfRecord[];
  /** The configuration the last Ready reported (Ready.confState). */
  private readyConf: ConfState;
  /** A leader handing over to this voter (thesis §3.10): proposals are refused meanwhile. */
  private leadTransferee: string | null = null;
  /** Leader ticks since the transfer started; it is given up after an election timeout. */
  private transferElapsed = 0;

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
   * Throws if heartbeatTick >= electionTick, if `entries` is not contiguous from index 1
   * (or from the snapshot), if a config entry in it or a given configuration is
   * malformed, or if a snapshot comes without `latestSnapshot`.
   */
  constructor(config: RaftConfig) {
    const peers = config.peers ?? [];
    const base = config.snapshot?.conf ?? config.conf;
    if (config.heartbeatTick >= config.electionTick) throw new Error('heartbeatTick must be less than electionTick');
    this.id = config.id;
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
    const snap = config.snapshot ?? { index: 0, term: 0 };
    this.confs = [{ index: snap.index, term: snap.term, conf: base ? normalizeConf(base) : confOfVoters(peers), entry: false }];
    this.readConfsFrom(this.raftLog.firstIndex());
    this.readyConf = this.conf;
    this.trace = config.traceLogger ?? new NoopTraceLogger();
    this.trace.raftStart(this.id, this.raftLog.commitIndex);
    this.resetElectionTimeout();
  }

  // ---------------------------------------------------------------- inputs

  /**
   * Advances logical time by one tick: a follower or candidate campaigns when its
   * election timeout runs out (§5.2), if it is a voter (learners, removed and joining
   * nodes never do); a leader heartbeats every heartbeatTick, gives up a leadership
   * transfer after an election timeout, and with check-quorum steps down after an
   * election timeout without hearing from a majority (of each half, while joint).
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
    // Not a voter here (a learner, a node removed or still joining): no election timeout.
    // The count still runs, so the lease (inLease) lapses as it would anywhere else.
    if (!this.promotable()) return;
    if (this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.cfg.preVote);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    // etcd's abortLeaderTransfer: a target that did not win within an election timeout
    // (cut off, crashed, or its campaign failed) must not keep proposals refused.
    if (this.leadTransferee !== null && ++this.transferElapsed >= this.cfg.electionTick) this.endTransfer('timeout');
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
   * enabled); does nothing on a leader or on a node that is not a voter here. For tests;
   * leadership transfer uses transferLeadership().
   */
  campaignNow(): void {
    if (this.role !== 'leader' && this.promotable()) this.campaign(this.cfg.preVote);
  }

  /** Rejoined empty and not yet refilled up to what it had acknowledged (RaftConfig.catchUpIndex). */
  private catchingUp(): boolean {
    return this.raftLog.lastIndex() < this.cfg.catchUpIndex;
  }

  /** May campaign: a voter (in C_new or C_old) of the configuration in force here, not refilling its log (etcd's promotable). */
  private promotable(): boolean {
    return isVoter(this.conf, this.id) && !this.catchingUp();
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
    const refused = this.refuseProposal();
    if (refused) return refused;
    const first = this.raftLog.lastIndex() + 1;
    this.raftLog.append(
      commands.map((c, k) => ({ index: first + k, term: this.term, kind: 'command' as const, data: c.data, ...(c.traceId ? { traceId: c.traceId } : {}) })),
    );
    this.broadcastAppend();
    this.maybeCommit();
    return { ok: true, index: this.raftLog.lastIndex(), term: this.term };
  }

  /** Why this node appends nothing now, or null when it may: not the leader, or handing over (thesis §3.10). */
  private refuseProposal(): (ProposeResult & { ok: false }) | null {
    if (this.role !== 'leader') return { ok: false, leaderId: this.leaderId, reason: `not the leader (leader: ${this.leaderId ?? 'unknown'})` };
    if (this.leadTransferee !== null) return { ok: false, leaderId: this.id, reason: `leadership transfer to ${this.leadTransferee} in progress` };
    return null;
  }

  /**
   * Proposes a membership change (Raft paper §6, thesis ch. 4; etcd's ProposeConfChange):
   * appends a config entry (kind 'config', data a ConfEntry: the change and the
   * configuration it produces) and switches to that configuration at once, before it
   * commits; followers switch when they append it, and back if it is truncated.
   *
   * - Changes to the voters enter the joint configuration C_old,new: while it is in
   *   force, elections, commitment, ReadIndex and check-quorum need a majority of C_old
   *   and one of C_new. Once it commits, this leader appends the leave-joint entry (C_new)
   *   on its own (etcd's auto-leave); the change is complete when that one commits. A
   *   single voter change takes the same two steps (one rule, with no special case).
   * - Changes to learners only apply in one entry (no majority changes).
   * - A leader that C_new leaves out goes on leading until C_new commits, not counting
   *   itself, then steps down (thesis §4.2.2); a removed node gets nothing more once the
   *   change that removed it commits (the leader sends it that commit, best effort).
   *
   * Refused (ok false, nothing appended, `reason` says why) on a non-leader, during a
   * leadership transfer, while another change is not complete (its entry uncommitted, or
   * the joint configuration not left yet: one at a time), before this leader has
   * committed an entry of its term (the fix Ongaro gave for single-server changes, raft-dev 2015),
   * and for a change that does not apply (see applyConfChange: e.g. removing a
   * non-member, demoting a voter, leaving no voter).
   *
   * The server learns the outcome as for a command: the entry at `index` comes out in
   * committedEntries with `term` (a different term there: replaced, propose again).
   * Applying it: decodeConfEntry(e.data).conf is the configuration from then on; a node
   * missing from it (voters, votersOutgoing, learners) was removed. A learner is worth
   * promoting (addNode) once the leader's status().progress shows its matchIndex close to
   * the leader's lastIndex: within, say, 1,000 entries, or the entries of a few seconds
   * of load, so that it does not hold up commits as a voter that lags.
   */
  proposeConfChange(change: ConfChange, traceId?: string): ProposeResult {
    const refused = this.refuseProposal();
    if (refused) return refused;
    const pending = this.confs.at(-1)!;
    if (pending.entry && pending.index > this.raftLog.commitIndex) {
      return { ok: false, leaderId: this.id, reason: `the configuration change at index ${pending.index} is not committed yet: one change at a time` };
    }
    if (isJoint(this.conf)) return { ok: false, leaderId: this.id, reason: 'the joint configuration is being left: one change at a time' };
    if (this.raftLog.term(this.raftLog.commitIndex) !== this.term) {
      return { ok: false, leaderId: this.id, reason: 'this leader has not committed an entry of its term yet: retry shortly' };
    }
    let next: ConfState;
    try {
      if (change.changes.length === 0) throw new ConfChangeError('no changes (the leave-joint change is proposed by the core itself)');
      next = applyConfChange(this.conf, change);
    } catch (err) {
      if (err instanceof ConfChangeError) return { ok: false, leaderId: this.id, reason: err.message };
      throw err;
    }
    const e = this.appendConf(change, next, traceId);
    return { ok: true, index: e.index, term: e.term };
  }

  /**
   * Leadership transfer (thesis §3.10; etcd's MsgTransferLeader): this leader stops
   * accepting proposals (they are refused with the reason), brings `target` up to date,
   * then sends it TimeoutNow, on which it campaigns at once, without a pre-vote, with a
   * RequestVote that voters grant despite their leader lease. When the target's term
   * arrives this leader steps down. If no new leader emerged within an election timeout
   * (electionTick ticks), the transfer is given up and proposals are accepted again.
   * A transfer to the target already under way changes nothing; one to another target
   * replaces it. Refused (ok false) on a non-leader, to itself, and to a target that is not
   * a voter of C_new here (a learner, a node leaving, a stranger).
   */
  transferLeadership(target: string): TransferResult {
    if (this.role !== 'leader') return { ok: false, leaderId: this.leaderId, reason: `not the leader (leader: ${this.leaderId ?? 'unknown'})` };
    if (target === this.id) return { ok: false, leaderId: this.id, reason: `${target} is already the leader` };
    if (!this.conf.voters.includes(target)) {
      const what = this.conf.learners.includes(target) ? 'a learner' : this.conf.votersOutgoing.includes(target) ? 'leaving the cluster' : 'not a member';
      return { ok: false, leaderId: this.id, reason: `${target} is ${what}: only a voter can lead` };
    }
    if (this.leadTransferee === target) return { ok: true };
    if (this.leadTransferee !== null) this.endTransfer('superseded');
    this.leadTransferee = target;
    this.transferElapsed = 0;
    this.trace.leaderTransfer(this.id, target, this.term);
    const pr = this.progress.get(target)!;
    if (pr.matchIndex === this.raftLog.lastIndex()) {
      this.sendTimeoutNow(target);
    } else {
      if (!pr.isPaused()) this.sendAppend(target, pr, false);
      this.sendPipelined(target, pr);
    }
    return { ok: true };
  }

  /** The transfer ended (the leader stepped down) or is given up; proposals are accepted again. */
  private endTransfer(outcome: 'steppedDown' | 'timeout' | 'superseded' | 'targetRemoved'): void {
    if (this.leadTransferee === null) return;
    this.trace.leaderTransferEnd(this.id, this.leadTransferee, this.term, outcome);
    this.leadTransferee = null;
    this.transferElapsed = 0;
  }

  private sendTimeoutNow(to: string): void {
    const m: TimeoutNow = { type: 'TimeoutNow', from: this.id, to, term: this.term };
    withToken(m, this.trace.timeoutNow(m));
    // The target's log matches ours already (its acknowledgement said so): nothing to wait for.
    this.msgs.push(m);
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
    // The configurations the snapshot covers are history, but for the last, in force at
    // its index (and so the one to send with it, SnapshotMeta.conf).
    let k = 0;
    while (k + 1 < this.confs.length && this.confs[k + 1].index <= index) k++;
    if (k > 0) this.confs = this.confs.slice(k);
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
   * Feeds in a message from a peer. Silently drops messages whose `to` is not this node
   * (or that come from itself), and stale replies; answers a stale request with this
   * node's term so its sender steps down (§5.1). Messages from nodes outside the
   * configuration are taken (a node that joins hears from a leader it does not know yet),
   * but only members count: votes from voters of the configuration in force, replies from
   * members the leader tracks. A higher term makes this node a follower in that term,
   * except for pre-votes, which change no one's term (thesis §9.6), and vote requests
   * that arrive within a leader's lease (thesis §4.2.3), which are ignored unless the
   * leader handed over (RequestVote.transfer).
   */
  step(m: Message): void {
    if (m.from === this.id || m.to !== this.id) return;
    if (m.term > this.term) {
      if (m.type === 'RequestVote' && !m.transfer && this.inLease()) {
        this.trace.requestVoteRecv(m);
        return;
      }
      const grantedPreVote = m.type === 'RequestVoteRes' && m.preVote && m.voteGranted;
      if (!(m.type === 'RequestVote' && m.preVote) && !grantedPreVote) {
        const leader = m.type === 'AppendEntries' || m.type === 'InstallSnapshot' || m.type === 'TimeoutNow' ? m.from : null;
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
      case 'TimeoutNow':
        return this.handleTimeoutNow(m);
    }
  }

  /**
   * The leader hands over (thesis §3.10): campaign now, skipping the pre-vote (the
   * leader vouches that this log is up to date) and flagging the vote requests so that
   * voters still in the leader's lease answer them (etcd's campaignTransfer). Ignored by
   * a node that is not a voter here (a learner whose promotion has not arrived).
   */
  private handleTimeoutNow(m: TimeoutNow): void {
    this.trace.timeoutNowRecv(m);
    if (this.role === 'leader' || !this.promotable()) return;
    this.campaign(false, true);
  }

  /** A message from an older term: tell its sender the current term so it steps down. */
  private stepStale(m: Message): void {
    if (m.type === 'AppendEntries') {
      this.trace.appendEntriesRecv(m, true);
      this.reply({ type: 'AppendEntriesRes', from: this.id, to: m.from, term: this.term, success: false, matchIndex: 0, prevLogIndex: m.prevLogIndex, conflictIndex: 0, conflictTerm: 0, readSeq: m.readSeq, incarnation: this.cfg.incarnation }, m);
    } else if (m.type === 'RequestVote') {
      this.trace.requestVoteRecv(m);
      this.replyVote(m, false);
    } else if (m.type === 'InstallSnapshot') {
      this.trace.installSnapshotRecv(m);
      this.replySnapshot(m, false);
    } else if (m.type === 'TimeoutNow') {
      // From a leader since deposed: campaigning now would only disturb.
      this.trace.timeoutNowRecv(m);
    }
  }

  // ---------------------------------------------------------------- elections

  /** `transfer`: on the leader's TimeoutNow (no pre-vote; the requests carry the flag). */
  private campaign(preVote: boolean, transfer = false): void {
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
    // Only voters are asked: no one else's answer counts (learners' included).
    for (const to of members({ voters: this.conf.voters, votersOutgoing: this.conf.votersOutgoing, learners: [] })) {
      if (to === this.id) continue;
      const m: RequestVote = { type: 'RequestVote', from: this.id, to, term, lastLogIndex: this.raftLog.lastIndex(), lastLogTerm: this.raftLog.lastTerm(), preVote, ...(transfer ? { transfer } : {}) };
      withToken(m, this.trace.requestVote(m));
      this.msgsAfterPersist.push(m);
    }
  }

  private handleRequestVote(m: RequestVote): void {
    this.trace.requestVoteRecv(m);
    // A learner (or a node that does not know its membership yet) answers like a voter:
    // only the candidate decides whose answers count, by its own configuration. Refusing
    // could stall the cluster: a learner promoted by a change committed without it
    // believes it is a learner until a leader tells it otherwise, and that leader may
    // need its vote (the case etcd-io/raft documents at its MsgVote handling).
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

  /** A majority of the voters in force here granted (of C_old and of C_new, while joint: paper §6). */
  private wonVote(): boolean {
    return jointVote(this.conf, this.votes) === 'won';
  }

  /** Enough refusals that no majority (of either half, while joint) is left to win. */
  private lostVote(): boolean {
    return jointVote(this.conf, this.votes) === 'lost';
  }

  /** Heard from a leader within the minimum election timeout: a vote now would disrupt it (thesis §4.2.3). */
  private inLease(): boolean {
    return this.cfg.checkQuorum && this.leaderId !== null && this.electionElapsed < this.cfg.electionTick;
  }

  // ---------------------------------------------------------------- role changes

  private becomeFollower(term: number, leaderId: string | null): void {
    const wasLeader = this.role === 'leader';
    if (wasLeader) this.endTransfer('steppedDown');
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
    this.leadTransferee = null;
    this.progress = new Map();
    this.syncProgress();
    this.trace.leaderElected(this.id, this.term);
    // A no-op of the new term lets earlier-term entries commit (§5.4.2, §8) and ReadIndex start.
    this.raftLog.append([{ index: this.raftLog.lastIndex() + 1, term: this.term, kind: 'noop', data: '' }]);
    this.broadcastAppend();
    this.maybeCommit();
    // A joint configuration that an earlier leader committed but did not leave.
    this.finishConfChange();
  }

  private resetElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTick + this.rng.int(0, this.cfg.electionTick);
  }

  /** Heard from a majority (of each half, while joint) in this window; starts the next window. */
  private quorumActive(): boolean {
    const active = new Map<string, boolean>([[this.id, true]]);
    for (const [id, pr] of this.progress) {
      active.set(id, pr.recentActive);
      pr.recentActive = false;
    }
    return jointVote(this.conf, active) === 'won';
  }

  // ---------------------------------------------------------------- configuration

  /** The configuration in force here: the latest in the log, committed or not (paper §6). */
  private get conf(): ConfState {
    return this.confs[this.confs.length - 1].conf;
  }

  /** The configuration in force at `index` (at or past the base's index): the last one at or below it. */
  private confAt(index: number): ConfState {
    for (let k = this.confs.length - 1; k > 0; k--) if (this.confs[k].index <= index) return this.confs[k].conf;
    return this.confs[0].conf;
  }

  /**
   * Re-reads the configurations from index `from` on, after the log changed there (a
   * leader's entries appended, or a conflicting suffix replaced): those of entries no
   * longer in the log are forgotten, which reverts to the one before (paper §6).
   */
  private readConfsFrom(from: number): void {
    const before = this.conf;
    while (this.confs.length > 1 && this.confs[this.confs.length - 1].index >= from) this.confs.pop();
    for (const e of this.raftLog.slice(Math.max(from, this.raftLog.firstIndex()), this.raftLog.lastIndex())) {
      if (e.kind === 'config') this.confs.push({ index: e.index, term: e.term, conf: decodeConfEntry(e.data).conf, entry: true });
    }
    if (this.conf !== before) this.confChanged();
  }

  /** The leader appends a config entry and switches to `next` at once (paper §6). */
  private appendConf(change: ConfChange, next: ConfState, traceId?: string): Entry {
    const before = this.conf;
    const e: Entry = { index: this.raftLog.lastIndex() + 1, term: this.term, kind: 'config', data: encodeConfEntry({ change, conf: next }), ...(traceId ? { traceId } : {}) };
    this.raftLog.append([e]);
    this.confs.push({ index: e.index, term: e.term, conf: next, entry: true });
    this.trace.confChangeProposed(this.id, e, change, before, next);
    this.confChanged();
    this.broadcastAppend();
    return e;
  }

  private confChanged(): void {
    if (this.role !== 'leader') return;
    this.syncProgress();
    if (this.leadTransferee !== null && !this.conf.voters.includes(this.leadTransferee)) this.endTransfer('targetRemoved');
  }

  /**
   * The leader tracks (and replicates to) the members of the configuration in force and
   * those of the committed one: a node that the pending change removes still gets the
   * entries up to that change, and when the change commits one last AppendEntries that
   * tells it so, then nothing more (thesis §4.2.2). New members start probing.
   */
  private syncProgress(): void {
    const want = new Set([...members(this.conf), ...members(this.confAt(this.raftLog.commitIndex))]);
    want.delete(this.id);
    for (const id of want) {
      if (!this.progress.has(id)) this.progress.set(id, new Progress(this.raftLog.lastIndex(), this.cfg.maxInflight, this.cfg.maxInflightBytes));
    }
    for (const [id, pr] of this.progress) {
      if (want.has(id)) continue;
      this.sendCommitted(id, pr);
      this.progress.delete(id);
    }
  }

  /**
   * After a config entry committed: leave a joint configuration (etcd's auto-leave; the
   * paper's C_new once C_old,new commits), or step down if the committed C_new leaves
   * this leader out (thesis §4.2.2: only once C_new is committed, so it led C_new until then).
   */
  private finishConfChange(): void {
    if (this.role !== 'leader') return;
    const latest = this.confs[this.confs.length - 1];
    if (latest.entry && latest.index > this.raftLog.commitIndex) return;
    if (isJoint(this.conf)) {
      this.appendConf(LEAVE_JOINT, applyConfChange(this.conf, LEAVE_JOINT));
    } else if (!this.conf.voters.includes(this.id)) {
      // Tell the new configuration that C_new committed, so that its voters need not
      // wait for a heartbeat to learn it; one of them then times out and is elected.
      for (const [id, pr] of this.progress) this.sendCommitted(id, pr);
      this.becomeFollower(this.term, null);
    }
  }

  /**
   * An AppendEntries from the follower's acknowledged match to the end of the log (as much
   * as one message carries) with the commit index: a follower about to be dropped learns
   * the commit of the change that dropped it. Best effort (it may be lost); nothing when
   * the follower needs a snapshot.
   */
  private sendCommitted(to: string, pr: Progress): void {
    if (pr.matchIndex < this.raftLog.snapshotIndex || pr.state === 'snapshot') return;
    const { entries } = this.raftLog.sliceForMessage(pr.matchIndex + 1, this.cfg.maxEntriesPerMessage, this.cfg.maxSizePerMsg);
    const m: AppendEntries = {
      type: 'AppendEntries',
      from: this.id,
      to,
      term: this.term,
      prevLogIndex: pr.matchIndex,
      prevLogTerm: this.raftLog.term(pr.matchIndex),
      entries,
      leaderCommit: this.raftLog.commitIndex,
      readSeq: this.reads.currentSeq(),
    };
    withToken(m, this.trace.appendEntries(m, true));
    this.msgs.push(m);
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
    for (const [to, pr] of this.progress) this.sendAppend(to, pr, true);
    // A leader that is a majority on its own (one voter, learners aside) needs no answer.
    this.readStates.push(...this.reads.confirm(this.quorumReadSeq()));
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
    // The configuration at the snapshot's index travels with it (§7): the follower's log
    // is replaced, and with it every config entry it held. The core's record wins over
    // the driver's (which need not have set one).
    const m: InstallSnapshot = { type: 'InstallSnapshot', from: this.id, to, term: this.term, snapshot: { ...snapshot, conf: this.confAt(snapshot.index) } };
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
    const written = this.raftLog.mergeFromLeader(entries);
    // A config entry takes effect when appended; one truncated here is undone (paper §6).
    if (written > 0) this.readConfsFrom(written);
    const lastNew = prevLogIndex + entries.length;
    // Figure 2, AppendEntries rule 5: nothing past what this message proved matches.
    const commit = Math.min(m.leaderCommit, lastNew);
    if (commit > this.raftLog.commitIndex) this.raftLog.commitIndex = commit;
    this.reply({ ...base, success: true, matchIndex: lastNew, conflictIndex: 0, conflictTerm: 0 }, m);
  }

  private reply(res: AppendEntriesRes, req: AppendEntries): void {
    // A request without a token (tracing off at its sender) gets a reply without one.
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
      // The commit may have ended this leadership, or this follower's membership.
      if (this.role !== 'leader' || this.progress.get(m.from) !== pr) return;
      pr.maybeSnapshotDone(this.raftLog.snapshotIndex);
      if (pr.nextIndex <= this.raftLog.lastIndex() && (!pr.isPaused() || this.windowCompacted(pr))) this.sendAppend(m.from, pr, false);
      this.sendPipelined(m.from, pr);
      this.maybeHandOver(m.from, pr);
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
      if (this.raftLog.matchTerm(index, term)) {
        this.raftLog.commitIndex = index;
      } else {
        // The whole log is replaced: the configuration is the snapshot's (a sender that
        // did not say keeps the one this node had; the core always says). Ready.snapshot
        // carries it, for the driver to persist.
        const conf = m.snapshot.conf ? normalizeConf(m.snapshot.conf) : this.conf;
        this.raftLog.restore(m.snapshot.conf ? m.snapshot : { ...m.snapshot, conf });
        const before = this.conf;
        this.confs = [{ index, term, conf, entry: false }];
        if (conf !== before) this.confChanged();
      }
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
    if (this.role !== 'leader' || this.progress.get(m.from) !== pr) return;
    pr.maybeSnapshotDone(this.raftLog.snapshotIndex);
    if (pr.nextIndex <= this.raftLog.lastIndex() && !pr.isPaused()) this.sendAppend(m.from, pr, false);
    this.sendPipelined(m.from, pr);
    this.maybeHandOver(m.from, pr);
  }

  /** The transfer target's log now matches this leader's to the end: tell it to campaign (etcd sends it on every such reply). */
  private maybeHandOver(from: string, pr: Progress): void {
    if (from === this.leadTransferee && pr.matchIndex === this.raftLog.lastIndex()) this.sendTimeoutNow(from);
  }

  /** The read round a majority of the voters (of each half, while joint) has acknowledged. */
  private quorumReadSeq(): number {
    return jointIndex(this.conf, (id) => (id === this.id ? this.reads.currentSeq() : (this.progress.get(id)?.ackedReadSeq ?? 0)));
  }

  /**
   * Advance commitIndex to what a majority of the voters holds (of C_old and of C_new
   * while joint, paper §6; learners never count), counting only current-term entries
   * (§5.4.2). Then finish a configuration change whose entry just committed.
   */
  private maybeCommit(): void {
    if (this.role !== 'leader') return;
    // The leader counts only what its own disk holds (thesis §10.2.1), and only where it votes.
    const index = jointIndex(this.conf, (id) => (id === this.id ? this.raftLog.stableIndex : (this.progress.get(id)?.matchIndex ?? 0)));
    if (index <= this.raftLog.commitIndex || this.raftLog.term(index) !== this.term) return;
    const from = this.raftLog.commitIndex + 1;
    this.raftLog.commitIndex = index;
    let confCommitted = false;
    for (const e of this.raftLog.slice(from, index)) {
      this.trace.commit(e);
      if (e.kind === 'config') {
        confCommitted = true;
        this.trace.confChangeCommitted(this.id, e, this.confAt(e.index));
      }
    }
    this.reads.releaseWaiting(index);
    if (!confCommitted) return;
    this.syncProgress();
    this.finishConfChange();
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
        progress[peer] = {
          matchIndex: pr.matchIndex,
          nextIndex: pr.nextIndex,
          state: pr.state,
          inflight: inflight.messages,
          inflightBytes: inflight.bytes,
          learner: this.conf.learners.includes(peer),
        };
      }
    }
    const latest = this.confs[this.confs.length - 1];
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
      conf: this.conf,
      confIndex: latest.entry ? latest.index : 0,
      leadTransferee: this.leadTransferee,
    };
  }

  /**
   * The configuration in force here: the latest in the log, committed or not (paper §6).
   * Frozen and shared (cheap to call): a change replaces it. Ready.confState reports changes.
   */
  confState(): ConfState {
    return this.conf;
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
      this.conf !== this.readyConf ||
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
      confState: this.conf !== this.readyConf ? this.conf : null,
    };
    this.readyConf = this.conf;
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
