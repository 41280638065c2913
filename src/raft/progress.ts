/**
 * The leader's view of one follower (Figure 2's nextIndex and matchIndex), plus the
 * flow-control state that decides how much to send before hearing back (etcd-io/raft's
 * Progress, states probe, replicate and snapshot as in its design.md).
 *
 * probe: the follower's log position is unknown; send one AppendEntries at a time,
 * so a lagging or rejecting follower costs one message per heartbeat, not a flood.
 * replicate: the follower is known to match; stream entries optimistically (pipelining,
 * thesis §10.2.2), at most `maxInflight` unacknowledged messages.
 * snapshot: the follower needs entries the leader's log no longer holds, and an
 * InstallSnapshot is under way (§7); nothing but heartbeats goes out until the follower
 * answers it, or the driver reports how the transfer ended (Raft.reportSnapshot).
 */
export class Progress {
  nextIndex: number;
  matchIndex = 0;
  state: 'probe' | 'replicate' | 'snapshot' = 'probe';
  /** In snapshot state: the index of the snapshot sent (etcd's PendingSnapshot). */
  pendingSnapshot = 0;
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
    if (this.state === 'snapshot') return true;
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
    this.pendingSnapshot = 0;
    this.inflight = [];
    this.nextIndex = this.matchIndex + 1;
  }

  /** An InstallSnapshot of the snapshot at `index` went out. */
  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.probeSent = false;
    this.inflight = [];
  }

  /**
   * In snapshot state, once the follower's log reached the snapshot sent or `logStart`
   * (the leader's snapshotIndex, from where its log can catch the follower up), replicate
   * again (etcd: Match + 1 >= firstIndex). True if it left the snapshot state.
   */
  maybeSnapshotDone(logStart: number): boolean {
    if (this.state !== 'snapshot' || this.matchIndex < Math.min(this.pendingSnapshot, logStart)) return false;
    this.becomeReplicate();
    return true;
  }

  /**
   * The transport finished streaming the snapshot (`ok`) or gave up. Either way probe
   * again, paused until the follower's reply or the next heartbeat: after a success from
   * just past the snapshot, after a failure from the last known match (etcd's
   * MsgSnapStatus). Ignored outside snapshot state (a late or duplicate report).
   */
  snapshotReported(ok: boolean): void {
    if (this.state !== 'snapshot') return;
    this.nextIndex = ok ? Math.max(this.matchIndex + 1, this.pendingSnapshot + 1) : this.matchIndex + 1;
    this.state = 'probe';
    this.pendingSnapshot = 0;
    this.inflight = [];
    this.probeSent = true;
  }

  /** Called on a heartbeat: a lost probe may be sent again. */
  heartbeat(): void {
    this.probeSent = false;
  }
}
