import type { WireStatus } from '../transport/wire.ts';
import type { ControllerDeps } from './deps.ts';
import type { Liveness, ServerRow, StateStore } from './state.ts';

/**
 * Keeps the server rows current: asks every server for its status, on a timer or on
 * demand, and merges each answer (or silence) with what this UI knows of the processes
 * it runs. Each server is asked on its own, so one that is slow to answer (paused,
 * unreachable) holds up no other row.
 */
export class StatusPoller {
  private timer: NodeJS.Timeout | null = null;
  /** Status requests under way, by server. */
  private readonly asking = new Map<string, Promise<void>>();
  /** Servers being started: shown as "starting" until they answer. */
  private readonly starting = new Set<string>();
  private closed = false;

  constructor(
    private readonly deps: Pick<ControllerDeps, 'servers' | 'cluster' | 'status'>,
    private readonly store: StateStore,
  ) {}

  /** Asks every server every ~intervalMs until stop(); the first round starts at once. */
  start(intervalMs: number): void {
    if (this.timer || this.closed) return;
    const tick = () => {
      void this.askAll();
      if (!this.closed && this.timer) this.timer = setTimeout(tick, intervalMs);
    };
    this.timer = setTimeout(tick, 0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Stops for good: answers that arrive later change nothing. */
  close(): void {
    this.closed = true;
    this.stop();
  }

  /**
   * A fresh look at every server: waits for requests already under way, then asks each
   * again; resolves when all have answered or timed out.
   */
  async pollOnce(): Promise<void> {
    await Promise.all([...this.asking.values()]);
    await this.askAll();
  }

  /** Shows `id` as "starting" while `start` runs (a restart), whatever polls say meanwhile. */
  async whileStarting(id: string, start: () => Promise<void>): Promise<void> {
    this.starting.add(id);
    this.store.setLiveness(id, 'starting');
    try {
      await start();
    } finally {
      this.starting.delete(id);
    }
  }

  private async askAll(): Promise<void> {
    await Promise.all(this.deps.servers.map((s) => this.ask(s.id)));
  }

  /** One status request to one server (joins the one under way); its row updates when it answers. */
  private ask(id: string): Promise<void> {
    const under = this.asking.get(id);
    if (under) return under;
    const p = (async () => {
      let st: WireStatus | null = null;
      if (!this.deps.cluster || this.deps.cluster.state(id) === 'up') {
        try {
          st = await this.deps.status(id);
        } catch {
          st = null;
        }
      }
      if (!this.closed) this.apply(id, st);
    })().finally(() => this.asking.delete(id));
    this.asking.set(id, p);
    return p;
  }

  private apply(id: string, st: WireStatus | null): void {
    const rows = this.store.getSnapshot().rows.map((prev) => (prev.id === id ? this.rowFrom(prev, st) : this.relive(prev)));
    this.store.update({ rows, leader: findLeader(rows) });
  }

  /** A row after its server answered (a status) or did not (null). */
  private rowFrom(prev: ServerRow, st: WireStatus | null): ServerRow {
    const state = this.deps.cluster?.state(prev.id);
    // An answer that arrives after the process was killed or paused no longer counts.
    const fresh = st !== null && (state === undefined || state === 'up');
    let liveness: Liveness;
    if (this.starting.has(prev.id)) liveness = 'starting';
    else if (state !== undefined) liveness = state === 'up' && !fresh ? 'no answer' : state;
    else liveness = fresh ? 'up' : 'no answer';
    return {
      ...prev,
      liveness,
      // A server that stopped answering keeps its last status on screen until it is back.
      status: fresh ? st : prev.status,
      fresh,
      blocked: fresh ? st.peers.filter((p) => p.blocked).map((p) => p.id) : liveness === 'down' ? [] : prev.blocked,
    };
  }

  /** Another server's row, following what this UI knows of its process in the meantime. */
  private relive(prev: ServerRow): ServerRow {
    const state = this.deps.cluster?.state(prev.id);
    if (this.starting.has(prev.id) || state === undefined || state === 'up') return prev;
    return { ...prev, liveness: state, fresh: false, blocked: state === 'down' ? [] : prev.blocked };
  }
}

/** The server that claims leadership in the highest term among those answering. */
export function findLeader(rows: ServerRow[]): { id: string; term: number } | null {
  let best: { id: string; term: number } | null = null;
  for (const r of rows) {
    if (!r.fresh || r.status?.role !== 'leader') continue;
    if (!best || r.status.term > best.term) best = { id: r.id, term: r.status.term };
  }
  return best;
}
