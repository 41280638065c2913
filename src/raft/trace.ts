import type { Token } from '../../tracing/record.ts';
import type { Tracer } from '../../tracing/tracer.ts';
import type { AppendEntries, AppendEntriesRes, Entry, RequestVote, RequestVoteRes } from './types.ts';

/** The Raft actions of the catalogue (TRACING.md), with the bodies the checkers read. */
export class RaftTrace {
  constructor(
    private readonly tracer: Tracer,
    private readonly traceHeartbeats: boolean,
  ) {}

  raftStart(serverId: string): void {
    this.tracer.record('RaftStart', { serverId });
  }

  requestVote(candidateId: string, m: RequestVote): Token | undefined {
    return this.tracer.send('RequestVote', { term: m.term, candidateId, to: m.to, preVote: m.preVote });
  }

  requestVoteRecv(serverId: string, m: RequestVote): void {
    this.tracer.receive(m.token, 'RequestVoteRecv', { serverId, term: m.term, candidateId: m.from, preVote: m.preVote });
  }

  requestVoteRes(serverId: string, m: RequestVote, voteGranted: boolean, term: number): Token | undefined {
    return this.tracer.send('RequestVoteRes', { voteGranted, serverId, candidateId: m.from, term, preVote: m.preVote });
  }

  /** Not in the catalogue: the candidate's receive, so LeaderElected follows the grants. */
  requestVoteResRecv(serverId: string, m: RequestVoteRes): void {
    this.tracer.receive(m.token, 'RequestVoteResRecv', { serverId, from: m.from, voteGranted: m.voteGranted, term: m.term, preVote: m.preVote });
  }

  leaderElected(serverId: string, term: number): void {
    this.tracer.record('LeaderElected', { serverId, term });
  }

  /** Empty heartbeats that bring no new commit index stay out of the log unless asked. */
  wantsAppend(m: AppendEntries, sentCommit: number): boolean {
    return this.traceHeartbeats || m.entries.length > 0 || m.leaderCommit !== sentCommit;
  }

  appendEntries(m: AppendEntries): Token | undefined {
    return this.tracer.send('AppendEntries', appendBody(m), traceIdOf(m.entries));
  }

  appendEntriesRecv(m: AppendEntries): void {
    this.tracer.receive(m.token, 'AppendEntriesRecv', appendBody(m), traceIdOf(m.entries));
  }

  appendEntriesRes(res: AppendEntriesRes, req: AppendEntries): Token | undefined {
    res.traceId = traceIdOf(req.entries);
    return this.tracer.send('AppendEntriesRes', resBody(res), res.traceId);
  }

  /** Not in the catalogue: the leader's receive, so Commit follows the replicas' replies. */
  appendEntriesResRecv(m: AppendEntriesRes): void {
    this.tracer.receive(m.token, 'AppendEntriesResRecv', resBody(m), m.traceId ?? '');
  }

  commit(e: Entry): void {
    this.tracer.record('Commit', { term: e.term, index: e.index, operation: operationOf(e) }, e.traceId ?? '');
  }

  apply(e: Entry, outcome: Record<string, unknown>): void {
    this.tracer.record('Apply', { command: operationOf(e), term: e.term, index: e.index, ...outcome }, e.traceId ?? '');
  }
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
