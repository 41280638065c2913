import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** How long one window of the recent figure lasts (ms). */
const WINDOW_MS = 10_000;

/**
 * Watches this process's event-loop stalls (perf_hooks.monitorEventLoopDelay, 10 ms
 * resolution). A stall delays every timer, heartbeat and reply of the node: one longer
 * than the election timeout makes followers elect someone else, so operators see it in
 * `raftkv status`. Two figures, in ms: the longest stall of the last 10-20 s, and the
 * longest since the process started.
 */
export class LoopMonitor {
  private current: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private previousMaxMs = 0;
  private worstMs = 0;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.current.enable();
    this.timer = setInterval(() => this.rotate(), WINDOW_MS);
    this.timer.unref();
  }

  /** The longest stall (ms) in the current and the previous 10 s window. */
  recentMaxMs(): number {
    return Math.max(this.previousMaxMs, nsToMs(this.current.max));
  }

  /** The longest stall (ms) since the monitor started. */
  worstMaxMs(): number {
    return Math.max(this.worstMs, nsToMs(this.current.max));
  }

  stop(): void {
    clearInterval(this.timer);
    this.current.disable();
  }

  private rotate(): void {
    this.previousMaxMs = nsToMs(this.current.max);
    this.worstMs = Math.max(this.worstMs, this.previousMaxMs);
    this.current.reset();
  }
}

/** The histogram counts from the resolution up: subtract it, so an idle loop reads ~0. */
function nsToMs(ns: number): number {
  return Math.max(0, Math.round(ns / 1e6 - 10));
}
