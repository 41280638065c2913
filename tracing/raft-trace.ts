import type { TraceLogger } from '../src/raft/trace-logger.ts';
import type { AppendEntries, AppendEntriesRes, Entry, InstallSnapshot, InstallSnapshotRes, RequestVote, RequestVoteRes } from '../src/raft/types.ts';
import type { Token } from './record.ts';
import type { Tracer } from './tracer.ts';

/**
 * The Raft actions of the catalogue (docs/TRACING.md), with the bodies the checkers read:
 * the core's TraceLogger on a real Tracer, plus Apply, which the driver records as it
 * applies committed entries.
 */
export class RaftTrace implements TraceLogger {
  constructor(
    private readonly tracer: Tracer,
    /** Also trace heartbeats that carry nothing new (off by default: logs stay small). */
    private readonly traceHeartbeats: boolean,
  ) {}

  raftStart(serverId: string): void {
    this.tracer.record('RaftStart', { serverId });
  }

  requestVote(m: RequestVote): Token | undefined {
    return this.tracer.send('RequestVote', { term: m.term, candidateId: m.from, to: m.to, preVote: m.preVote });
  }

  requestVoteRecv(m: RequestVote): void {
    this.tracer.receive(tokenOf(m), 'RequestVoteRecv', { serverId: m.to, term: m.term, candidateId: m.from, preVote: m.preVote });
  }

  requestVoteRes(res: RequestVoteRes): Token | undefined {
    return this.tracer.send('RequestVoteRes', { voteGranted: res.voteGranted, serverId: res.from, candidateId: res.to, term: res.term, preVote: res.preVote });
  }

  /** Not in the catalogue: the candidate's receive, so LeaderElected follows the grants. */
  requestVoteResRecv(m: RequestVoteRes): void {
    this.tracer.receive(tokenOf(m), 'RequestVoteResRecv', { serverId: m.to, from: m.from, voteGranted: m.voteGranted, term: m.term, preVote: m.preVote });
  }

  leaderElected(serverId: string, term: number): void {
    this.tracer.record('LeaderElected', { serverId, term });
  }

  /** Empty heartbeats that bring no new commit index stay out of the log unless asked. */
  appendEntries(m: AppendEntries, carriesNews: boolean): Token | undefined {
    if (!carriesNews && !this.traceHeartbeats) return undefined;
    return this.tracer.send('AppendEntries', appendBody(m), traceIdOf(m.entries));
  }

  appendEntriesRecv(m: AppendEntries): void {
    this.tracer.receive(tokenOf(m), 'AppendEntriesRecv', appendBody(m), traceIdOf(m.entries));
  }

  appendEntriesRes(res: AppendEntriesRes, req: AppendEntries): Token | undefined {
    res.traceId = traceIdOf(req.entries);
    return this.tracer.send('AppendEntriesRes', resBody(res), res.traceId);
  }

  /** Not in the catalogue: the leader's receive, so Commit follows the replicas' replies. */
  appendEntriesResRecv(m: AppendEntriesRes): void {
    this.tracer.receive(tokenOf(m), 'AppendEntriesResRecv', resBody(m), m.traceId ?? '');
  }

  commit(e: Entry): void {
    this.tracer.record('Commit', { term: e.term, index: e.index, operation: operationOf(e) }, e.traceId ?? '');
  }

  /** Rare (a follower fell behind the leader's compacted log), so always traced. */
  installSnapshot(m: InstallSnapshot): Token | undefined {
    return this.tracer.send('InstallSnapshot', snapshotBody(m));
  }

  installSnapshotRecv(m: InstallSnapshot): void {
    this.tracer.receive(tokenOf(m), 'InstallSnapshotRecv', snapshotBody(m));
  }

  installSnapshotRes(res: InstallSnapshotRes): Token | undefined {
    return this.tracer.send('InstallSnapshotRes', snapshotResBody(res));
  }

  /** The leader's receive, so what it sends next follows the answer. */
  installSnapshotResRecv(m: InstallSnapshotRes): void {
    this.tracer.receive(tokenOf(m), 'InstallSnapshotResRecv', snapshotResBody(m));
  }

  /**
   * An entry of a Ready's committedEntries as the caller applies it, with what applying
   * it did (e.g. that it was a retried duplicate the state machine answered from its
   * session table without executing it again).
   */
  apply(e: Entry, outcome: Record<string, unknown> = {}): void {
    this.tracer.record('Apply', { command: operationOf(e), term: e.term, index: e.index, ...outcome }, e.traceId ?? '');
  }
}

/** The core carries tokens unread; the ones on its messages are the clocks this class handed out. */
function tokenOf(m: { token?: unknown }): Token | undefined {
  return m.token as Token | undefined;
}

function operationOf(e: Entry): string {
  return e.kind === 'noop' ? 'noop' : e.data;
}

function traceIdOf(entries: Entry[]): string {
  return entries.find((e) => e.traceId)?.traceId ?? '';
}

function appendBody(m: AppendEntries): Record<string, unknown> {
  return {
    term: m.term,
    leaderId: m.from,
    to: m.to,
    prevLogIndex: m.prevLogIndex,
    prevLogTerm: m.prevLogTerm,
    leaderCommit: m.leaderCommit,
    // Index and term identify an entry (Log Matching); Commit and Apply carry the command.
    entries: m.entries.map((e) => ({ index: e.index, term: e.term, ...(e.traceId ? { traceId: e.traceId } : {}) })),
  };
}

function snapshotBody(m: InstallSnapshot): Record<string, unknown> {
  // The data is the state machine's business (and may be large): only its position is traced.
  return { term: m.term, leaderId: m.from, to: m.to, index: m.snapshot.index, snapshotTerm: m.snapshot.term };
}

function snapshotResBody(m: InstallSnapshotRes): Record<string, unknown> {
  return { success: m.success, serverId: m.from, to: m.to, term: m.term, index: m.snapshotIndex, matchIndex: m.matchIndex };
}

function resBody(m: AppendEntriesRes): Record<string, unknown> {
  return {
    success: m.success,
    serverId: m.from,
    to: m.to,
    term: m.term,
    matchIndex: m.matchIndex,
    conflictIndex: m.conflictIndex,
    conflictTerm: m.conflictTerm,
  };
}
