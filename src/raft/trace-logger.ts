import type { ConfChange } from './conf-change.ts';
import type { AppendEntries, AppendEntriesRes, ConfState, Entry, InstallSnapshot, InstallSnapshotRes, RequestVote, RequestVoteRes, TimeoutNow, TraceToken } from './types.ts';

/**
 * The Raft actions the core reports as it takes them, so a trace can show them in
 * causal order. Declared here and implemented outside (tracing/raft-trace.ts), as
 * etcd-io/raft declares its TraceLogger in package raft: the core depends on no tracer.
 *
 * A send returns a token (or undefined: not traced), which the core carries on the
 * message unread; the receiver's logger gets the message back with its token. Applying
 * committed entries is the caller's business, so Apply is not in here: the driver
 * records it through the same implementation.
 */
export interface TraceLogger {
  /**
   * This node's Raft instance was created (at start, or restart from storage);
   * `commitIndex` is the commit index it recovered from storage (hard state or snapshot),
   * 0 for a new node: what it knows was committed before this life began.
   */
  raftStart(id: string, commitIndex: number): void;
  requestVote(m: RequestVote): TraceToken | undefined;
  /** Also called for requests the node ignores (lease, stale term): they were received. */
  requestVoteRecv(m: RequestVote): void;
  requestVoteRes(res: RequestVoteRes): TraceToken | undefined;
  /** Only for replies the campaign counts, so LeaderElected follows the grants that won it. */
  requestVoteResRecv(m: RequestVoteRes): void;
  leaderElected(id: string, term: number): void;
  /**
   * `carriesNews` is false for an empty heartbeat whose commit index this follower was
   * already sent: a logger may leave its send out, so an idle cluster's trace stays small.
   * Being sent is not being received, though (the message or the follower may be lost),
   * so a logger that leaves sends out must still hand out a token that lets the receiver
   * record the receipt when it learns something from it (tracing/raft-trace.ts).
   */
  appendEntries(m: AppendEntries, carriesNews: boolean): TraceToken | undefined;
  /**
   * For messages with a token, and for every `stale` one (of an older term: it is answered
   * with a rejection). The logger decides whether a receipt is worth recording; it must
   * record every one that changes what the receiver knows (a commit index, a leader).
   */
  appendEntriesRecv(m: AppendEntries, stale?: boolean): void;
  /**
   * Only for requests that carried a token (right after their appendEntriesRecv). May set
   * `res.traceId` (from req's entries) so the leader's receive joins that trace.
   */
  appendEntriesRes(res: AppendEntriesRes, req: AppendEntries): TraceToken | undefined;
  /**
   * At the leader, for replies with a token, so Commit follows the replies that made it:
   * the logger records every one that moves what the leader knows of the follower's log.
   */
  appendEntriesResRecv(m: AppendEntriesRes): void;
  /** The leader saw `e` committed (§5.3, §5.4.2); followers learn it without a record. */
  commit(e: Entry): void;
  /** The leader sends its snapshot to a follower whose next entries it no longer holds (§7); once per send. */
  installSnapshot(m: InstallSnapshot): TraceToken | undefined;
  /** Every InstallSnapshot received, also one of an older term (it is refused). */
  installSnapshotRecv(m: InstallSnapshot): void;
  /** The follower's answer (recorded when decided; it leaves once what it promises is on disk). */
  installSnapshotRes(res: InstallSnapshotRes, req: InstallSnapshot): TraceToken | undefined;
  /** At the leader, for every answer it takes. */
  installSnapshotResRecv(m: InstallSnapshotRes): void;
  /**
   * The leader appended the config entry `e` (paper §6): `before` was in force, `after` is
   * from now on (this node switched at once). Also for the leave-joint entry it proposes
   * on its own once C_old,new commits (an empty `change`).
   */
  confChangeProposed(serverId: string, e: Entry, change: ConfChange, before: ConfState, after: ConfState): void;
  /** The leader saw the config entry `e`, which put `conf` in force, committed (after its commit()). */
  confChangeCommitted(serverId: string, e: Entry, conf: ConfState): void;
  /** The leader started a leadership transfer to `target` in its `term` (thesis §3.10). */
  leaderTransfer(serverId: string, target: string, term: number): void;
  /**
   * The transfer started in `term` (that leader's term) ended without this node leading
   * any more ('steppedDown', normally because the target was elected), or was given up: 'timeout' (an election timeout passed),
   * 'superseded' (a transfer to another target replaced it), 'targetRemoved' (a config
   * change took the target's vote away).
   */
  leaderTransferEnd(serverId: string, target: string, term: number, outcome: 'steppedDown' | 'timeout' | 'superseded' | 'targetRemoved'): void;
  /** The leader tells the caught-up target to campaign now. */
  timeoutNow(m: TimeoutNow): TraceToken | undefined;
  /** Every TimeoutNow received, also one that is ignored (stale, or this node cannot campaign). */
  timeoutNowRecv(m: TimeoutNow): void;
}

/** Tracing off: every action is dropped and no message carries a token. */
export class NoopTraceLogger implements TraceLogger {
  raftStart(): void {}
  requestVote(): undefined {
    return undefined;
  }
  requestVoteRecv(): void {}
  requestVoteRes(): undefined {
    return undefined;
  }
  requestVoteResRecv(): void {}
  leaderElected(): void {}
  appendEntries(): undefined {
    return undefined;
  }
  appendEntriesRecv(): void {}
  appendEntriesRes(): undefined {
    return undefined;
  }
  appendEntriesResRecv(): void {}
  commit(): void {}
  installSnapshot(): undefined {
    return undefined;
  }
  installSnapshotRecv(): void {}
  installSnapshotRes(): undefined {
    return undefined;
  }
  installSnapshotResRecv(): void {}
  confChangeProposed(): void {}
  confChangeCommitted(): void {}
  leaderTransfer(): void {}
  leaderTransferEnd(): void {}
  timeoutNow(): undefined {
    return undefined;
  }
  timeoutNowRecv(): void {}
}
