import { performance } from 'node:perf_hooks';

/**
 * Log time: the clock TTL deadlines and expiry are measured on (ms). Every replica
 * applies the same `ts` from the log; this class decides what `ts` the leader proposes.
 *
 * Why not the leader's wall clock: a leader whose clock runs minutes fast pushes log
 * time ahead, and the next leader (correct clock) then computes deadlines that are
 * already in the past, so every new TTL expires at once. Here log time advances only by
 * elapsed *monotonic* time, and is carried across leader changes: the leader stamps its
 * log time on AppendEntries (`AppendEntries.logTime`), followers keep the latest one with
 * the local monotonic instant it arrived, and a follower that becomes leader continues
 * from there. A wall clock is read once, when a brand-new cluster elects its first
 * leader, to give log time a human-readable origin; its error never matters afterwards.
 *
 * The bound (documented in docs/ARCHITECTURE.md): log time never runs backwards and
 * never jumps with one server's clock. It runs behind real time by at most one message
 * delay per leader change, and it stands still while no server of the cluster runs at
 * all (a restarted cluster continues from the newest `ts` in its log), so a TTL lasts at
 * least as long as asked and longer only by that downtime, as etcd's leases, which a new
 * leader renews in full, do too.
 */
export class LogClock {
  /** Log time at `anchorMono`; null until a leader's time was heard or this node led. */
  private anchorLog: number | null = null;
  private anchorMono = 0;
  /** The largest value handed out, so now() never runs backwards. */
  private issued = 0;

  constructor(
    private readonly mono: () => number = () => performance.now(),
    private readonly wall: () => number = () => Date.now(),
  ) {}

  /** A leader's stamp (ms of log time) arrived on an AppendEntries of the current term. */
  observe(leaderLogTime: number): void {
    if (!Number.isFinite(leaderLogTime) || leaderLogTime <= 0) return;
    // The leader is the authority, but never step back behind what this node knew.
    if (leaderLogTime >= this.estimate()) this.anchor(leaderLogTime);
  }

  /**
   * This node became leader. `appliedLogTime` is the newest `ts` its state machine
   * applied (0 for an empty log): the floor, so time never runs back behind the log.
   */
  lead(appliedLogTime: number): void {
    const heard = this.anchorLog === null ? 0 : this.estimate();
    const origin = this.anchorLog === null && appliedLogTime === 0 ? this.wall() : 0;
    this.anchor(Math.max(heard, appliedLogTime, origin));
  }

  /** Current log time in whole ms: what a leader stamps on commands and reads at. */
  now(): number {
    this.issued = Math.max(this.issued, Math.floor(this.estimate()));
    return this.issued;
  }

  private estimate(): number {
    return this.anchorLog === null ? this.issued : this.anchorLog + (this.mono() - this.anchorMono);
  }

  private anchor(logTime: number): void {
    this.anchorLog = logTime;
    this.anchorMono = this.mono();
  }
}
