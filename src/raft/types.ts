import type { Token } from '../../tracing/record.ts';

/** A log entry. `data` is opaque to Raft; an empty no-op opens every leader's term. */
export interface Entry {
  index: number;
  term: number;
  kind: 'noop' | 'command';
  data: string;
  /** The client operation this entry belongs to, so Commit and Apply join its trace. */
  traceId?: string;
}

/** What must be durable before a vote or an AppendEntries success leaves this node. */
export interface HardState {
  term: number;
  votedFor: string | null;
  commitIndex: number;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface RequestVote {
  type: 'RequestVote';
  from: string;
  to: string;
  term: number;
  lastLogIndex: number;
  lastLogTerm: number;
  /** A pre-vote asks "would you vote for me?" without anyone changing term. */
  preVote: boolean;
  token?: Token;
}

export interface RequestVoteRes {
  type: 'RequestVoteRes';
  from: string;
  to: string;
  term: number;
  voteGranted: boolean;
  preVote: boolean;
  token?: Token;
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
  token?: Token;
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
  /** On failure: where the leader should retry (the Raft paper's fast backtracking). */
  conflictIndex: number;
  /** On failure: the term of the follower's entry at prevLogIndex, 0 if it has none. */
  conflictTerm: number;
  readSeq: number;
  token?: Token;
  /** The trace id of the request answered, so the leader's receive joins its trace. */
  traceId?: string;
}

export type Message = RequestVote | RequestVoteRes | AppendEntries | AppendEntriesRes;

/** Answer to readIndex(ctx): reads with this ctx may be served once lastApplied >= index. */
export type ReadState = { ctx: string; index: number } | { ctx: string; error: string };

export interface SoftState {
  role: Role;
  leaderId: string | null;
  term: number;
}

/**
 * One batch of work for the caller. Persist `hardState` and `entries` (entries[0].index
 * and everything after it replaces what the log held there), send `messages`, apply
 * `committedEntries` in order (reporting each with traceApply()), answer `readStates`; then call advance(ready), which
 * returns the messages that were waiting for that persistence.
 */
export interface Ready {
  softState: SoftState;
  hardState: HardState | null;
  entries: Entry[];
  /** Safe to send before persisting: the leader's own AppendEntries. */
  messages: Message[];
  committedEntries: Entry[];
  readStates: ReadState[];
}
