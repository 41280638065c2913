import type { ConfChange } from '../src/raft/conf-change.ts';
import type { TraceLogger } from '../src/raft/trace-logger.ts';
import type { AppendEntries, AppendEntriesRes, ConfState, Entry, InstallSnapshot, InstallSnapshotRes, RequestVote, RequestVoteRes, TimeoutNow } from '../src/raft/types.ts';
import type { Token } from './record.ts';
import type { Tracer } from './tracer.ts';

/**
 * The Raft actions of the catalogue (docs/TRACING.md), with the bodies the checkers read:
 * the core's TraceLogger on a real Tracer, plus what only the driver sees, because it owns
 * the state machine: Apply, SnapshotTaken and SnapshotRestored.
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
    return this.tracer.send('RequestVote', { term: m.term, candidateId: m.from, to: m.to, preVote: m.preVote, ...(m.transfer ? { transfer: true } : {}) });
  }

  requestVoteRecv(m: RequestVote): void {
    this.tracer.receive(tokenOf(m), 'RequestVoteRecv', { serverId: m.to, term: m.term, candidateId: m.from, preVote: m.preVote, ...(m.transfer ? { transfer: true } : {}) });
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

  /** The leader appended a config entry (Raft §6): who voted before it and who votes from it on. */
  confChangeProposed(serverId: string, e: Entry, change: ConfChange, before: ConfState, after: ConfState): void {
    this.tracer.record(
      'ConfChangeProposed',
      {
        serverId,
        index: e.index,
        term: e.term,
        change: change.changes.length === 0 ? 'leaveJoint' : change.changes.map((c) => `${c.type} ${c.nodeId}`).join(', '),
        oldVoters: [...before.voters],
        newVoters: [...after.voters],
        votersOutgoing: [...after.votersOutgoing],
        learners: [...after.learners],
      },
      e.traceId ?? '',
    );
  }

  /** The leader saw a config entry committed: the configuration it put in force is now the cluster's. */
  confChangeCommitted(serverId: string, e: Entry, conf: ConfState): void {
    this.tracer.record(
      'ConfChangeCommitted',
      { serverId, index: e.index, term: e.term, voters: [...conf.voters], votersOutgoing: [...conf.votersOutgoing], learners: [...conf.learners] },
      e.traceId ?? '',
    );
  }

  leaderTransfer(serverId: string, target: string, term: number): void {
    this.tracer.record('LeaderTransfer', { serverId, target, term });
  }

  leaderTransferEnd(serverId: string, target: string, term: number, outcome: string): void {
    this.tracer.record('LeaderTransferEnd', { serverId, target, term, outcome });
  }

  timeoutNow(m: TimeoutNow): Token | undefined {
    return this.tracer.send('TimeoutNow', { term: m.term, leaderId: m.from, to: m.to });
  }

  timeoutNowRecv(m: TimeoutNow): void {
    this.tracer.receive(tokenOf(m), 'TimeoutNowRecv', { serverId: m.to, term: m.term, leaderId: m.from });
  }

  /**
   * An entry of a Ready's committedEntries as the caller applies it, with what applying
   * it did (e.g. that it was a retried duplicate the state machine answered from its
   * session table without executing it again).
   */
  apply(e: Entry, outcome: Record<string, unknown> = {}): void {
    this.tracer.record('Apply', { command: operationOf(e), term: e.term, index: e.index, ...outcome }, e.traceId ?? '');
  }

  /**
   * Log compaction (Raft §7): the driver made a durable snapshot of its own state machine
   * covering indexes 1..`index`, where `term` is the term of entry `index`; its log may then
   * drop those entries. Records `SnapshotTaken {serverId, index, term}`, a local event.
   * The checkers hold the snapshot to the log: `index` committed and already applied here,
   * `term` the term every Commit and Apply of `index` names.
   */
  snapshotTaken(snapshot: { index: number; term: number }): void {
    this.tracer.record('SnapshotTaken', { serverId: this.tracer.host, index: snapshot.index, term: snapshot.term });
  }

  /**
   * The driver replaced its state machine with a snapshot covering 1..`index` (`term`: the
   * term of entry `index`): one installed from the leader (Raft §7, InstallSnapshot), or its
   * own loaded at startup when its trace shows it had not applied that far. Its next Apply is
   * `index` + 1, and the entries the snapshot covers are never Applied on this server.
   * Records `SnapshotRestored {serverId, index, term}`, a local event.
   */
  snapshotRestored(snapshot: { index: number; term: number }): void {
    this.tracer.record('SnapshotRestored', { serverId: this.tracer.host, index: snapshot.index, term: snapshot.term });
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
