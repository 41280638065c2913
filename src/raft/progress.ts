/**
 * The leader's view of one follower (Figure 2's nextIndex and matchIndex), plus the
 * flow-control state that decides how much to send before hearing back (etcd-io/raft's
 * Progress, states probe, replicate and snapshot as in its design.md).
 *
 * probe: the follower's log position is unknown; send one AppendEntries at a time,
 * so a lagging or rejecting follower costs one message per heartbeat, not a flood.
 * replicate: the follower is known to match; stream entries optimistically (pipelining,
 * thesis §10.2.2), at most `maxInflight` unacknowledged messages and, like etcd's
 * MaxInflightBytes, at most `maxInflightBytes` of their entries (the window is full once
 * it holds that many bytes, so one message may take it past the bound, as in etcd).
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
  /**
   * The follower's incarnation (AppendEntriesRes.incarnation) whose replies matchIndex
   * rests on. A reply from an older one is stale; one from a newer one means the
   * follower restarted, and what it acknowledged before may be gone from its disk.
   */
  incarnation = 0;
  /** In probe state: an AppendEntries is out and unanswered until the next heartbeat. */
  private probeSent = false;
  /** Unacknowledged AppendEntries (last index, entry bytes), oldest first. */
  private inflight: { index: number; bytes: number }[] = [];
  /** Sum of `inflight`'s bytes. */
  private inflightBytes = 0;
  /** Heard from in the current check-quorum window. */
  recentActive = false;
  /** Highest read round this follower has acknowledged (ReadIndex). */
  ackedReadSeq = 0;
  /** Commit index last sent, so the sends of heartbeats that carry nothing new go unrecorded (tracing/raft-trace.ts). */
  sentCommit = 0;

  /**
   * A new leader assumes every follower matches its log (nextIndex = lastIndex + 1) and
   * probes to find out. `maxInflightBytes` 0 leaves the bytes unbounded.
   */
  constructor(
    lastIndex: number,
    private readonly maxInflight: number,
    private readonly maxInflightBytes = 0,
  ) {
    this.nextIndex = lastIndex + 1;
  }

  isPaused(): boolean {
    if (this.state === 'snapshot') return true;
    if (this.state === 'probe') return this.probeSent;
    return this.inflight.length >= this.maxInflight || (this.maxInflightBytes > 0 && this.inflightBytes >= this.maxInflightBytes);
  }

  /** Records a sent AppendEntries whose last entry is `lastIndex`, carrying `bytes` of entries. */
  sent(lastIndex: number, entryCount: number, bytes: number): void {
    if (this.state === 'probe') {
      this.probeSent = true;
    } else if (entryCount > 0) {
      this.nextIndex = lastIndex + 1;
      this.inflight.push({ index: lastIndex, bytes });
      this.inflightBytes += bytes;
    }
  }

  /** A success up to `index`; returns whether it taught the leader anything. */
  acknowledge(index: number): boolean {
    this.probeSent = false;
    while (this.inflight.length > 0 && this.inflight[0].index <= index) this.inflightBytes -= this.inflight.shift()!.bytes;
    if (index <= this.matchIndex) return false;
    this.matchIndex = index;
    this.nextIndex = Math.max(this.nextIndex, index + 1);
    if (this.state === 'probe') this.becomeReplicate();
    return true;
  }

  /** A rejection: fall back to probing from `nextIndex`. */
  rejectTo(nextIndex: number): void {
    this.becomeProbe();
    this.nextIndex = Math.max(this.matchIndex + 1, nextIndex);
  }

  /**
   * The follower answered from a newer incarnation: it restarted, and its disk may have
   * lost what it acknowledged before (a truncated log, or a node rejoined empty). Stop
   * counting those acknowledgements toward commits and probe again from where we were;
   * its replies will say where its log really ends.
   */
  restarted(incarnation: number): void {
    this.incarnation = incarnation;
    this.matchIndex = 0;
    this.becomeProbe();
  }

  /** Unacknowledged messages and their entry bytes, for status pages and tests. */
  inflightStatus(): { messages: number; bytes: number } {
    return { messages: this.inflight.length, bytes: this.inflightBytes };
  }

  private becomeProbe(): void {
    this.state = 'probe';
    this.pendingSnapshot = 0;
    this.probeSent = false;
    this.inflight = [];
    this.inflightBytes = 0;
  }

  private becomeReplicate(): void {
    this.state = 'replicate';
    this.pendingSnapshot = 0;
    this.inflight = [];
    this.inflightBytes = 0;
    this.nextIndex = this.matchIndex + 1;
  }

  /** An InstallSnapshot of the snapshot at `index` went out. */
  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.probeSent = false;
    this.inflight = [];
    this.inflightBytes = 0;
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
    this.inflightBytes = 0;
    this.probeSent = true;
  }

  /** Called on a heartbeat: a lost probe may be sent again. */
  heartbeat(): void {
    this.probeSent = false;
  }
}
