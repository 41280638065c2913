/** The shapes proto-loader gives protos/raftkv.proto messages (camelCase, numbers). */

export interface WireEntry {
  index: number;
  term: number;
  kind: string;
  data: string;
  traceId: string;
}

export interface WireRaftMessage {
  from: string;
  to: string;
  token: string;
  body?: 'requestVote' | 'requestVoteRes' | 'appendEntries' | 'appendEntriesRes' | 'installSnapshotRes' | 'timeoutNow';
  requestVote?: { term: number; lastLogIndex: number; lastLogTerm: number; preVote: boolean; transfer?: boolean };
  requestVoteRes?: { term: number; voteGranted: boolean; preVote: boolean };
  appendEntries?: { term: number; prevLogIndex: number; prevLogTerm: number; entries: WireEntry[]; leaderCommit: number; readSeq: number; logTime?: number };
  appendEntriesRes?: {
    term: number;
    success: boolean;
    matchIndex: number;
    prevLogIndex: number;
    conflictIndex: number;
    conflictTerm: number;
    readSeq: number;
    traceId: string;
    incarnation: number;
  };
  installSnapshotRes?: { term: number; snapshotIndex: number; success: boolean; matchIndex: number; incarnation: number };
  timeoutNow?: { term: number };
}

/** ConfState (Raft §6): a configuration's voters, learners and, while joint, outgoing voters. */
export interface WireConfState {
  voters: string[];
  learners: string[];
  votersOutgoing: string[];
}

/** SnapshotHeader: what an InstallSnapshot says besides its data, on every chunk of it. */
export interface WireSnapshotHeader {
  from: string;
  to: string;
  token: string;
  term: number;
  snapshotIndex: number;
  snapshotTerm: number;
  /** Length of the snapshot's data, bytes. */
  totalBytes: number;
  /** The configuration at snapshotIndex; null (proto-loader's default) or absent from an old sender. */
  conf?: WireConfState | null;
}

/** SnapshotChunk: `data` starts at byte `offset` of the snapshot's data (a Buffer when received). */
export interface WireSnapshotChunk {
  header: WireSnapshotHeader | null;
  offset: number;
  data: Uint8Array;
}

interface WireKeyValue {
  key: string;
  value: string;
}

export interface WireOp {
  kind?: 'get' | 'put' | 'delete' | 'incr' | 'expire' | 'mget' | 'mput';
  get?: string;
  put?: WireKeyValue;
  delete?: string;
  incr?: string;
  expire?: { key: string; ttlSeconds: number };
  mget?: { keys: string[] };
  mput?: { pairs: WireKeyValue[] };
}

export interface WireClientRequest {
  clientId: string;
  opId: number;
  firstUnacked: number;
  op: WireOp | null;
  traceId: string;
  token: string;
  forwarded: boolean;
  callId: number;
  timeoutMs: number;
}

export type ReplyCode = '' | 'NOT_LEADER' | 'NO_LEADER' | 'TIMEOUT' | 'INVALID' | 'NOSPACE' | 'FAILED' | 'UNAVAILABLE' | 'INTERNAL';

export interface WireClientReply {
  ok: boolean;
  value: string;
  values: string[];
  error: string;
  code: ReplyCode;
  leaderId: string;
  servedBy: string;
  token: string;
  callId: number;
}

interface WirePeerStatus {
  id: string;
  addr: string;
  matchIndex: number;
  nextIndex: number;
  blocked: boolean;
}

/** One member of the configuration (protos/raftkv.proto Member). */
export interface WireMember {
  id: string;
  addr: string;
  learner: boolean;
  /** A voter of C_old while the configuration is joint. */
  outgoing: boolean;
  /** On the leader: how far this member's log matches the leader's (0 elsewhere). */
  matchIndex: number;
}

/** The configuration in force on the answering server (protos/raftkv.proto MemberList). */
export interface WireMemberList {
  members: WireMember[];
  leaderId: string;
  term: number;
  joint: boolean;
  confIndex: number;
  lastIndex: number;
}

/** What a membership change or a transfer came to (protos/raftkv.proto AdminResult). */
export interface WireAdminResult {
  ok: boolean;
  /** NOT_LEADER, NO_LEADER, INVALID, BUSY, TIMEOUT; '' when ok. */
  code: string;
  error: string;
  leaderId: string;
  members: WireMemberList | null;
}

export interface WireStatus {
  serverId: string;
  role: string;
  term: number;
  leaderId: string;
  commitIndex: number;
  appliedIndex: number;
  lastLogIndex: number;
  peers: WirePeerStatus[];
  lastContactMs: number;
  pid: number;
  /** Longest event-loop stall of the last 10-20 s, ms (0 from an older server). */
  loopStallMs: number;
  /** Longest event-loop stall since the server started, ms. */
  loopStallWorstMs: number;
  /** Last index the server's latest snapshot covers (0: none, or an older server). */
  snapshotIndex: number;
  /** First index its log holds: the log has lastLogIndex - firstLogIndex + 1 entries. */
  firstLogIndex: number;
  /** Size of its log on disk, bytes. */
  logBytes: number;
  /** The server process's resident memory (RSS), bytes (0 from an older server). */
  rssBytes: number;
  /** The JavaScript heap in use, bytes. */
  heapUsedBytes: number;
}
