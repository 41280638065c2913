import type { ReadState } from './types.ts';

interface PendingRead {
  ctx: string;
  /** Commit index when the read arrived: the read may be served once applied reaches it. */
  index: number;
  /** The heartbeat round whose quorum of acknowledgements proves leadership. */
  seq: number;
}

/**
 * ReadIndex (Raft thesis §6.4; etcd's ReadOnlySafe): a read is linearizable at the
 * leader's commit index once a quorum has acknowledged a heartbeat sent after the read
 * arrived, proving no newer leader existed at that moment. A new leader's commit index
 * may lag what its predecessor committed, so reads wait until it commits an entry of its
 * own term (thesis §6.4 step 1). Rounds are numbered (`seq`); followers echo the number
 * in their AppendEntries replies (readSeq), and the leader answers every read whose
 * round a quorum has echoed. Answers are ReadStates: `{ ctx, index }` or `{ ctx, error }`.
 */
export class ReadIndexQueue {
  private pending: PendingRead[] = [];
  /** Reads that arrived before this leader committed an entry of its own term. */
  private waitingForTermCommit: string[] = [];
  private seq = 0;
  private roundDue = false;

  /** The round number the next heartbeat should carry. */
  currentSeq(): number {
    return this.seq;
  }

  /**
   * Queues a read for the next heartbeat round. Every read that arrives before that
   * round goes out shares it, so a burst of reads costs one round, not one each.
   */
  add(ctx: string, commitIndex: number, committedInTerm: boolean): void {
    if (!committedInTerm) {
      this.waitingForTermCommit.push(ctx);
      return;
    }
    this.pending.push({ ctx, index: commitIndex, seq: this.seq + 1 });
    this.roundDue = true;
  }

  /** The leader just committed in its term: earlier reads can join the next round. */
  releaseWaiting(commitIndex: number): void {
    if (this.waitingForTermCommit.length === 0) return;
    for (const ctx of this.waitingForTermCommit) this.pending.push({ ctx, index: commitIndex, seq: this.seq + 1 });
    this.waitingForTermCommit = [];
    this.roundDue = true;
  }

  /** Starts the round queued reads wait for; false when none is due. */
  startRound(): boolean {
    if (!this.roundDue) return false;
    this.roundDue = false;
    this.seq++;
    return true;
  }

  get isRoundDue(): boolean {
    return this.roundDue;
  }

  /** Reads whose round a quorum has acknowledged, given the quorum's acknowledged seq. */
  confirm(quorumSeq: number): ReadState[] {
    const done: ReadState[] = [];
    while (this.pending.length > 0 && this.pending[0].seq <= quorumSeq) {
      const r = this.pending.shift()!;
      done.push({ ctx: r.ctx, index: r.index });
    }
    return done;
  }

  /** Leadership ended: every waiting read fails so its caller can retry elsewhere. */
  failAll(reason: string): ReadState[] {
    const failed = [...this.waitingForTermCommit, ...this.pending.map((r) => r.ctx)].map((ctx) => ({ ctx, error: reason }));
    this.pending = [];
    this.waitingForTermCommit = [];
    return failed;
  }
}
