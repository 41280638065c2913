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
  // What this life's trace shows this host knows, so that a message whose send was not
  // recorded is recorded on receipt when it teaches more (see "Heartbeats" in
  // docs/TRACING.md). Per life on purpose: a restarted process may have lost what it knew,
  // and a new RaftTrace (one per RaftNode) starts from nothing, so it records again.

  /** Highest commit index of an AppendEntries received and recorded here, or of a Commit recorded here. */
  private knownCommit = 0;
  /** Highest term of an AppendEntries received and recorded here (a new leader is news). */
  private knownLeaderTerm = 0;
  /** The AppendEntries whose receipt was recorded last, until its reply is: that reply is recorded too. */
  private recordedRecv: AppendEntries | null = null;
  /** Per follower, at the leader: the match the latest recorded successful reply showed. */
  private readonly knownMatch = new Map<string, { term: number; incarnation: number; matchIndex: number }>();
  private lastAfter: AfterToken | null = null;

  constructor(
    private readonly tracer: Tracer,
    /** Also trace heartbeats that carry nothing new (off by default: logs stay small). */
    private readonly traceHeartbeats: boolean,
  ) {}

  /** `commitIndex`: recovered from storage at start (commit-before-apply reads it); test harnesses may leave it out. */
  raftStart(serverId: string, commitIndex?: number): void {
    this.tracer.record('RaftStart', { serverId, ...(commitIndex !== undefined ? { commitIndex } : {}) });
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

  /**
   * Empty heartbeats that bring no new commit index (as far as the leader knows) are not
   * recorded unless asked, but still carry the leader's clock (an AfterToken): the leader
   * cannot know what the follower got, so the follower decides, in appendEntriesRecv.
   */
  appendEntries(m: AppendEntries, carriesNews: boolean): Token | AfterToken | undefined {
    if (!carriesNews && !this.traceHeartbeats) return this.afterToken();
    return this.tracer.send('AppendEntries', appendBody(m), traceIdOf(m.entries));
  }

  /**
   * Recorded when its send was, when it is `stale` (refused: the reply says so), and when
   * its send was not but it teaches this host more than this life's trace shows it knows:
   * a higher commit index or a newer leader. Why the receiver decides and not the sender:
   * the sender's memory of what it told a peer ("commit N was sent") says nothing of what
   * the peer got: the message may have been dropped (a partition, a full stream), the peer
   * may have died before reading it or restarted since with less on its disk. Any of those
   * let an unrecorded heartbeat teach a follower a commit, and its Apply then followed no
   * Commit in the log (commit-before-apply). The follower alone knows what it learns, so
   * every heartbeat carries the leader's clock, and the follower records the receipt, after
   * that clock (which is after the leader's Commit of every index up to leaderCommit), the
   * first time it learns that commit in this life; idle heartbeats stay out of the log.
   */
  appendEntriesRecv(m: AppendEntries, stale = false): void {
    const sent = sentToken(m.token);
    const after = afterOf(m.token);
    const news = m.leaderCommit > this.knownCommit || m.term > this.knownLeaderTerm;
    if (!sent && !stale && !(after && news)) return;
    this.knownCommit = Math.max(this.knownCommit, m.leaderCommit);
    this.knownLeaderTerm = Math.max(this.knownLeaderTerm, m.term);
    this.recordedRecv = m;
    this.tracer.receive(sent ?? after, 'AppendEntriesRecv', appendBody(m), traceIdOf(m.entries));
  }

  /** Recorded when the request's receipt was; otherwise it carries the follower's clock, for the leader to decide. */
  appendEntriesRes(res: AppendEntriesRes, req: AppendEntries): Token | AfterToken | undefined {
    if (req !== this.recordedRecv) return this.afterToken();
    this.recordedRecv = null;
    res.traceId = traceIdOf(req.entries);
    return this.tracer.send('AppendEntriesRes', resBody(res), res.traceId);
  }

  /**
   * Not in the catalogue: the leader's receive, so Commit follows the replicas' replies.
   * Recorded when its send was, and when it was not but it shows the follower holding
   * more than this life's trace shows (a success past the match of the last recorded
   * reply of that follower's term and life): an unrecorded reply can move the leader's
   * matchIndex, and so its Commit, when the recorded one before it was lost.
   */
  appendEntriesResRecv(m: AppendEntriesRes): void {
    const sent = sentToken(m.token);
    const after = afterOf(m.token);
    const incarnation = m.incarnation ?? 0;
    const known = this.knownMatch.get(m.from);
    const fresh = !known || m.term !== known.term || incarnation > known.incarnation;
    const news = m.success && (fresh || (incarnation === known.incarnation && m.matchIndex > known.matchIndex));
    if (!sent && !(after && news)) return;
    if (news) this.knownMatch.set(m.from, { term: m.term, incarnation, matchIndex: m.matchIndex });
    this.tracer.receive(sent ?? after, 'AppendEntriesResRecv', resBody(m), m.traceId ?? '');
  }

  commit(e: Entry): void {
    this.knownCommit = Math.max(this.knownCommit, e.index);
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

  /** One AfterToken per recorded action, shared (and encoded once: codec.ts) by the messages until the next. */
  private afterToken(): AfterToken | undefined {
    const after = this.tracer.latestToken();
    if (!after) return undefined;
    if (this.lastAfter?.after !== after) this.lastAfter = Object.freeze({ after });
    return this.lastAfter;
  }
}

/**
 * The token of a message whose send was not recorded: the sender's clock at the moment it
 * made the message (Tracer.latestToken), i.e. its latest recorded action, which the send
 * barrier flushes before the message leaves like any other. A receiver that records the
 * receipt merges it, so the receipt follows everything the sender knew; one that does not
 * leaves its clock alone. Told apart from a send's token (a clock: numbers only) by its
 * one key holding an object; host names cannot collide, a clock's values are numbers.
 */
export interface AfterToken {
  after: Token;
}

/** The core carries tokens unread; the ones on its messages are the tokens this class handed out. */
function tokenOf(m: { token?: unknown }): Token | undefined {
  return sentToken(m.token) ?? afterOf(m.token);
}

/** A recorded send's token (a clock), or undefined for none or an AfterToken. */
function sentToken(token: unknown): Token | undefined {
  if (!token || typeof token !== 'object' || afterOf(token)) return undefined;
  return token as Token;
}

function afterOf(token: unknown): Token | undefined {
  const after = (token as Partial<AfterToken> | undefined)?.after;
  return after && typeof after === 'object' ? after : undefined;
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
