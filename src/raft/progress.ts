/**
 * The leader's view of one follower (Figure 2's nextIndex and matchIndex), plus the
 * flow-control state that decides how much to send before hearing back (etcd-io/raft's
 * Progress, states probe and replicate as in its design.md; no snapshot state here).
 *
 * probe: the follower's log position is unknown; send one AppendEntries at a time,
 * so a lagging or rejecting follower costs one message per heartbeat, not a flood.
 * replicate: the follower is known to match; stream entries optimistically (pipelining,
 * thesis §10.2.2), at most `maxInflight` unacknowledged messages.
 */
export class Progress {
  nextIndex: number;
  matchIndex = 0;
  state: 'probe' | 'replicate' = 'probe';
  /** In probe state: an AppendEntries is out and unanswered until the next heartbeat. */
  private probeSent = false;
  /** Last indexes of unacknowledged AppendEntries, oldest first. */
  private inflight: number[] = [];
  /** Heard from in the current check-quorum window. */
  recentActive = false;
  /** Highest read round this follower has acknowledged (ReadIndex). */
  ackedReadSeq = 0;
  /** Commit index last sent, so heartbeats that carry nothing new stay untraced. */
  sentCommit = 0;

  /** A new leader assumes every follower matches its log (nextIndex = lastIndex + 1) and probes to find out. */
  constructor(lastIndex: number, private readonly maxInflight: number) {
    this.nextIndex = lastIndex + 1;
  }

  isPaused(): boolean {
    return this.state === 'probe' ? this.probeSent : this.inflight.length >= this.maxInflight;
  }

  /** Records a sent AppendEntries whose last entry is `lastIndex`. */
  sent(lastIndex: number, entryCount: number): void {
    if (this.state === 'probe') {
      this.probeSent = true;
    } else if (entryCount > 0) {
      this.nextIndex = lastIndex + 1;
      this.inflight.push(lastIndex);
    }
  }

  /** A success up to `index`; returns whether it taught the leader anything. */
  acknowledge(index: number): boolean {
    this.probeSent = false;
    while (this.inflight.length > 0 && this.inflight[0] <= index) this.inflight.shift();
    if (index <= this.matchIndex) return false;
    this.matchIndex = index;
    this.nextIndex = Math.max(this.nextIndex, index + 1);
    if (this.state === 'probe') this.becomeReplicate();
    return true;
  }

  /** A rejection: fall back to probing from `nextIndex`. */
  rejectTo(nextIndex: number): void {
    this.state = 'probe';
    this.probeSent = false;
    this.inflight = [];
    this.nextIndex = Math.max(this.matchIndex + 1, nextIndex);
  }

  private becomeReplicate(): void {
    this.state = 'replicate';
    this.inflight = [];
    this.nextIndex = this.matchIndex + 1;
  }

  /** Called on a heartbeat: a lost probe may be sent again. */
  heartbeat(): void {
    this.probeSent = false;
  }
}
