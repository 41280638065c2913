/**
 * Whatever a TraceLogger returned for a send, carried on the message to the receiver's
 * TraceLogger. Opaque to the core, which never looks inside: tracing (vector clocks,
 * tracing/) plugs in from outside, as etcd-io/raft's TraceLogger does.
 */
export type TraceToken = unknown;

/**
 * A log entry. An empty no-op opens every leader's term (§5.4.2); a command's `data` is
 * opaque to Raft; a config entry's `data` is a ConfEntry (conf-change.ts: the change and
 * the configuration it puts in force), the one kind the core reads (paper §6).
 */
export interface Entry {
  /** 1-based position in the log. */
  index: number;
  term: number;
  kind: 'noop' | 'command' | 'config';
  data: string;
  /** The client operation this entry belongs to, so Commit and Apply join its trace. */
  traceId?: string;
}

/**
 * A cluster configuration (etcd's ConfState; Raft paper §6, thesis ch. 4): who votes and
 * who only replicates. Server ids, each in one role. Immutable: the core hands out frozen
 * objects and replaces them on a change.
 */
export interface ConfState {
  /** The voters: C_new, or the only configuration when not joint. */
  readonly voters: readonly string[];
  /** Non-voting members (thesis §4.2.1): they receive the log but never vote, campaign or count. */
  readonly learners: readonly string[];
  /**
   * C_old while a joint configuration C_old,new is in force, empty otherwise: elections,
   * commitment and ReadIndex then need a majority of `voters` and, separately, one of these.
   */
  readonly votersOutgoing: readonly string[];
}

/**
 * Where a log starts after compaction (Raft §7): the last index and term a snapshot
 * covers. Entries up to `index` are gone from the log; `term` answers the consistency
 * check of an AppendEntries whose prevLogIndex is `index`.
 */
export interface SnapshotMeta {
  index: number;
  term: number;
  /**
   * The configuration in force at `index` (the last config entry at or below it, §7 "the
   * latest configuration as of lastIncludedIndex"). The core stamps it on every snapshot
   * it sends and every one it installs (Ready.snapshot); the driver persists it and passes
   * it back in RaftConfig.snapshot on restart. Optional only so that snapshots written
   * before membership changes existed still load: without it the core takes RaftConfig's
   * initial configuration (`conf`, else `peers`).
   */
  conf?: ConfState;
}

/**
 * A snapshot of the caller's state machine after applying every entry up to `index`
 * (§7). `data` is opaque to the core, which never reads it: the driver produces it (and
 * restores its state machine from it); the core only carries it from the leader's
 * driver to a follower's. Treat it as immutable once handed over.
 */
export interface Snapshot extends SnapshotMeta {
  data: Uint8Array;
}

/**
 * What must be durable before a vote or an AppendEntries success leaves this node
 * (Figure 2's "persistent state on all servers"; the log is persisted beside it).
 */
export interface HardState {
  term: number;
  votedFor: string | null;
  commitIndex: number;
}

/** preCandidate: asking for pre-votes (thesis §9.6) without having changed term. */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface RequestVote {
  type: 'RequestVote';
  from: string;
  to: string;
  term: number;
  lastLogIndex: number;
  lastLogTerm: number;
  /** A pre-vote asks "would you vote for me?" without anyone changing term (thesis §9.6). */
  preVote: boolean;
  /**
   * Sent because the leader handed over (TimeoutNow, thesis §3.10): voters grant it even
   * while they hear from that leader (etcd's campaignTransfer), which they otherwise
   * ignore (the lease, thesis §4.2.3). Absent: false.
   */
  transfer?: boolean;
  token?: TraceToken;
}

export interface RequestVoteRes {
  type: 'RequestVoteRes';
  from: string;
  to: string;
  term: number;
  voteGranted: boolean;
  preVote: boolean;
  token?: TraceToken;
}

export interface AppendEntries {
  type: 'AppendEntries';
  from: string;
  to: string;
  term: number;
  prevLogIndex: number;
  prevLogTerm: number;
  entries: Entry[];
  leaderCommit: number;
  /** Read round this message confirms leadership for (ReadIndex); echoed in the reply. */
  readSeq: number;
  /**
   * Not Raft's: the leader's log time (ms), stamped by the driver after ready() and read
   * by the receiving driver, so that time survives a leader change. The core never sets
   * or reads it.
   */
  logTime?: number;
  token?: TraceToken;
}

export interface AppendEntriesRes {
  type: 'AppendEntriesRes';
  from: string;
  to: string;
  term: number;
  success: boolean;
  /** On success: the last index known to match the leader's log. */
  matchIndex: number;
  /** The prevLogIndex of the request answered, so the leader can spot stale replies. */
  prevLogIndex: number;
  /** On failure: where the leader should retry (the Raft paper's fast backtracking, §5.3). */
  conflictIndex: number;
  /** On failure: the term of the follower's entry at prevLogIndex, 0 if it has none. */
  conflictTerm: number;
  readSeq: number;
  /**
   * The replier's RaftConfig.incarnation (0 when absent): a leader ignores replies from
   * an earlier one and, on a newer one, stops counting what the follower acknowledged
   * before it restarted.
   */
  incarnation?: number;
  token?: TraceToken;
  /** The trace id of the request answered, so the leader's receive joins its trace. */
  traceId?: string;
}

/**
 * InstallSnapshot (§7): the leader's latest snapshot, for a follower that needs entries
 * the leader's log no longer holds. The core sees one message; the transport may stream
 * `snapshot.data` in chunks and must report the outcome with Raft.reportSnapshot().
 */
export interface InstallSnapshot {
  type: 'InstallSnapshot';
  from: string;
  to: string;
  term: number;
  snapshot: Snapshot;
  token?: TraceToken;
}

/**
 * The follower's answer to an InstallSnapshot. It leaves only after what it promises is
 * durable (the installed snapshot, or the log the follower already held).
 */
export interface InstallSnapshotRes {
  type: 'InstallSnapshotRes';
  from: string;
  to: string;
  term: number;
  /** The index of the snapshot answered. */
  snapshotIndex: number;
  /** False only when the request's term was stale (the reply then carries the newer term). */
  success: boolean;
  /**
   * On success: the follower's log matches the leader's up to here (its commit index,
   * which is the snapshot's index when it installed it or already held its last entry,
   * and higher when the snapshot was older than what it had committed).
   */
  matchIndex: number;
  /** The replier's RaftConfig.incarnation (0 when absent), as on AppendEntriesRes. */
  incarnation?: number;
  token?: TraceToken;
}

/**
 * Leadership transfer (thesis §3.10, etcd's MsgTimeoutNow): the leader tells a caught-up
 * voter to campaign at once, without waiting for its election timeout and without a
 * pre-vote; its RequestVote carries `transfer`.
 */
export interface TimeoutNow {
  type: 'TimeoutNow';
  from: string;
  to: string;
  term: number;
  token?: TraceToken;
}

export type Message = RequestVote | RequestVoteRes | AppendEntries | AppendEntriesRes | InstallSnapshot | InstallSnapshotRes | TimeoutNow;

/**
 * Answer to readIndex(ctx): reads with this ctx may be served once the caller's state
 * machine has applied `index`; or why they may not be served here at all.
 */
export type ReadState = { ctx: string; index: number } | { ctx: string; error: string };

/** Volatile state the caller may watch; nothing in it needs persisting. */
export interface SoftState {
  role: Role;
  leaderId: string | null;
  term: number;
}

/**
 * One batch of work for the caller (etcd-io/raft's Ready), to handle in this order:
 *
 * 1. send `messages` (they depend on nothing unpersisted);
 * 2. if `snapshot`, restore the state machine from it (such a Ready carries no
 *    committedEntries); apply `committedEntries` in order and answer `readStates`;
 * 3. if `mustSync`, durably persist `snapshot` (when not null: it replaces the whole log,
 *    see below), then `hardState` (when not null) and `entries` (entries[0].index and
 *    everything after it replace what the log held there);
 * 4. call advance(ready) and send the messages it returns, which were waiting for 3.
 */
export interface Ready {
  softState: SoftState;
  /**
   * Non-null when term or votedFor changed since the last Ready (commitIndex rides
   * along at its current value). A change of the commit index alone is not handed out:
   * it need not be durable, since a restarted node learns it again from the leader.
   */
  hardState: HardState | null;
  /**
   * A snapshot from the leader that this follower installed (§7): persist it and
   * discard every entry the log held (those it covers, and the rest, which did not match
   * the leader's); the log now starts after `snapshot.index`, and `entries` in this and
   * later Readies follow it. Restore the state machine from it: it holds the result of
   * every entry up to its index. No committedEntries come with it, and the next ones,
   * once it is durable (advance()), start at index + 1. Null almost always.
   */
  snapshot: Snapshot | null;
  /** New or rewritten log entries to persist. */
  entries: Entry[];
  /**
   * Whether snapshot, hardState and entries must reach stable storage (fsync) before
   * advance(): true when term or votedFor changed, a snapshot was installed or entries
   * were appended (etcd's MustSync, raft-rs's must_sync). Equivalent to
   * `hardState !== null || snapshot !== null || entries.length > 0`.
   */
  mustSync: boolean;
  /** Sendable before persisting: the leader's own AppendEntries (thesis §10.2.1). */
  messages: Message[];
  /** Committed entries, already durable here, not yet handed out to apply. */
  committedEntries: Entry[];
  readStates: ReadState[];
  /**
   * The configuration in force here (the latest in the log, committed or not, paper §6)
   * when it changed since the last Ready, else null: dial new members, forget removed
   * ones. Not a commit: whether this node was removed is known from the committed config
   * entries (see Raft.proposeConfChange).
   */
  confState: ConfState | null;
}

/** A leader's view of one follower, as status() reports it. */
export interface PeerStatus {
  /**
   * The last index known to match the leader's log. For a learner, what a server checks
   * before promoting it: caught up when within a small margin of the leader's lastIndex
   * (say 1,000 entries, or what a few seconds of load append), so that as a voter it does
   * not hold up commits while it catches up (thesis §4.2.1).
   */
  matchIndex: number;
  nextIndex: number;
  /**
   * probe: one AppendEntries at a time until the follower's position is known;
   * replicate: pipelined; snapshot: an InstallSnapshot is under way, only heartbeats go out.
   */
  state: 'probe' | 'replicate' | 'snapshot';
  /** Unacknowledged AppendEntries to this follower, and the bytes of their entries (RaftConfig.entrySize). */
  inflight: number;
  inflightBytes: number;
  /**
   * A learner (replicated to, never counted), not a voter. A member that the pending
   * change removes stays listed, as neither, until that change commits.
   */
  learner: boolean;
}

/**
 * A read-only snapshot of a node, for status pages and tests (etcd-io/raft's Status).
 * Nothing in it is live: call status() again for fresh values.
 */
export interface Status {
  id: string;
  role: Role;
  term: number;
  leaderId: string | null;
  votedFor: string | null;
  commitIndex: number;
  /** Highest index handed out in committedEntries; the caller's state machine may lag it. */
  appliedIndex: number;
  lastIndex: number;
  lastTerm: number;
  /** Last index the log's snapshot covers (0: none); the log holds entries from firstIndex on. */
  snapshotIndex: number;
  /** snapshotIndex + 1: the first index the log can hand out. */
  firstIndex: number;
  /**
   * Per member (this node excluded) while leading, learners included; null otherwise.
   * A server promoting a learner compares its matchIndex with the leader's lastIndex.
   */
  progress: Record<string, PeerStatus> | null;
  /** The configuration in force here: the latest in the log, committed or not (paper §6). */
  conf: ConfState;
  /** Index of the latest config entry in the log (0: none since the snapshot or the start); committed once commitIndex reaches it. */
  confIndex: number;
  /** On a leader handing over (transferLeadership): the target; null otherwise. */
  leadTransferee: string | null;
}
