/**
 * Whatever a TraceLogger returned for a send, carried on the message to the receiver's
 * TraceLogger. Opaque to the core, which never looks inside: tracing (vector clocks,
 * tracing/) plugs in from outside, as etcd-io/raft's TraceLogger does.
 */
export type TraceToken = unknown;

/** A log entry. `data` is opaque to Raft; an empty no-op opens every leader's term (§5.4.2). */
export interface Entry {
  /** 1-based position in the log. */
  index: number;
  term: number;
  kind: 'noop' | 'command';
  data: string;
  /** The client operation this entry belongs to, so Commit and Apply join its trace. */
  traceId?: string;
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

export type Message = RequestVote | RequestVoteRes | AppendEntries | AppendEntriesRes;

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
 * 2. apply `committedEntries` in order and answer `readStates`;
 * 3. if `mustSync`, durably persist `hardState` (when not null) and `entries`
 *    (entries[0].index and everything after it replace what the log held there);
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
  /** New or rewritten log entries to persist. */
  entries: Entry[];
  /**
   * Whether hardState and entries must reach stable storage (fsync) before advance():
   * true when term or votedFor changed or entries were appended (etcd's MustSync,
   * raft-rs's must_sync). Equivalent to `hardState !== null || entries.length > 0`.
   */
  mustSync: boolean;
  /** Sendable before persisting: the leader's own AppendEntries (thesis §10.2.1). */
  messages: Message[];
  /** Committed entries, already durable here, not yet handed out to apply. */
  committedEntries: Entry[];
  readStates: ReadState[];
}

/** A leader's view of one follower, as status() reports it. */
export interface PeerStatus {
  matchIndex: number;
  nextIndex: number;
  /** probe: one AppendEntries at a time until the follower's position is known; replicate: pipelined. */
  state: 'probe' | 'replicate';
  /** Unacknowledged AppendEntries to this follower, and the bytes of their entries (RaftConfig.entrySize). */
  inflight: number;
  inflightBytes: number;
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
  /** Per follower (this node excluded) while leading; null otherwise. */
  progress: Record<string, PeerStatus> | null;
}
