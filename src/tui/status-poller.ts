import type { WireStatus } from '../transport/wire.ts';
import type { ControllerDeps, MemberAnswer } from './deps.ts';
import { mergeMembers } from './members.ts';
import type { Liveness, ServerRow, StateStore } from './state.ts';

/**
 * After a membership request no server answered, the timer leaves membership alone this
 * long: servers without the call would otherwise be asked for it several times a second.
 */
const MEMBERS_QUIET_MS = 2000;

/**
 * Keeps the server rows current: asks every server for its status, on a timer or on
 * demand, and merges each answer (or silence) with what this UI knows of the processes
 * it runs. Each server is asked on its own, so one that is slow to answer (paused,
 * unreachable) holds up no other row. It also asks for the membership, and the rows
 * follow it: a member added gets a row, a removed one is marked or goes.
 */
export class StatusPoller {
  private timer: NodeJS.Timeout | null = null;
  /** Status requests under way, by server. */
  private readonly asking = new Map<string, Promise<void>>();
  /** Servers being started: shown as "starting" until they answer. */
  private readonly starting = new Set<string>();
  private closed = false;
  /** The membership request under way. */
  private membersAsking: Promise<MemberAnswer | null> | null = null;
  private membersQuietUntil = 0;
  /** Answers are numbered as asked, so that a slow one never replaces a newer one. */
  private membersAsked = 0;
  private membersShown = 0;
  /** The configured servers: their rows stay (marked removed) when the configuration drops them. */
  private readonly configured: ReadonlySet<string>;

  constructor(
    private readonly deps: Pick<ControllerDeps, 'servers' | 'cluster' | 'status' | 'members'>,
    private readonly store: StateStore,
  ) {
    this.configured = new Set(deps.servers.map((s) => s.id));
  }

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
    await Promise.all([...this.asking.values(), this.membersAsking]);
    await this.askAll(true);
  }

  /** A fresh membership answer, shown and returned; rejects when no server tells it. */
  async refreshMembers(): Promise<MemberAnswer> {
    await this.membersAsking;
    return this.askMembers(true, true) as Promise<MemberAnswer>;
  }

  /** Shows a membership known otherwise (the one a change answered with), newer than any asked so far. */
  showMembers(answer: MemberAnswer): void {
    this.membersShown = ++this.membersAsked;
    this.applyMembers(answer);
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

  /** Every row's server (members learned included), and the membership. */
  private async askAll(forceMembers = false): Promise<void> {
    const ids = this.store.getSnapshot().rows.map((r) => r.id);
    await Promise.all([...ids.map((id) => this.ask(id)), this.askMembers(forceMembers, false)]);
  }

  /**
   * One membership request (joins the one under way); resolves with the answer, or null
   * when none came (`rethrow`: rejects instead). Without `force` it skips while quiet.
   */
  private askMembers(force: boolean, rethrow: boolean): Promise<MemberAnswer | null> {
    if (this.membersAsking && !rethrow) return this.membersAsking;
    if (!force && Date.now() < this.membersQuietUntil) return Promise.resolve(null);
    const seq = ++this.membersAsked;
    const p = this.deps.members().then(
      (answer) => {
        this.membersQuietUntil = 0; // servers tell it again: back to every round
        if (!this.closed && seq > this.membersShown) {
          this.membersShown = seq;
          this.applyMembers(answer);
        }
        return answer;
      },
      (err: unknown) => {
        this.membersQuietUntil = Date.now() + MEMBERS_QUIET_MS;
        if (rethrow) throw err;
        return null;
      },
    );
    const settled = p.catch(() => null);
    this.membersAsking = settled;
    void settled.finally(() => {
      if (this.membersAsking === settled) this.membersAsking = null;
    });
    return p;
  }

  private applyMembers(answer: MemberAnswer): void {
    const rows = mergeMembers(this.store.getSnapshot().rows, answer, this.configured);
    this.store.update({ rows, members: answer, leader: findLeader(rows) });
  }

  /** What this UI knows of `id`'s process: undefined for one it did not start (attached, or added later). */
  private processState(id: string): 'up' | 'down' | 'paused' | undefined {
    const cluster = this.deps.cluster;
    return cluster && cluster.ids.includes(id) ? cluster.state(id) : undefined;
  }

  /** One status request to one server (joins the one under way); its row updates when it answers. */
  private ask(id: string): Promise<void> {
    const under = this.asking.get(id);
    if (under) return under;
    const p = (async () => {
      let st: WireStatus | null = null;
      const state = this.processState(id);
      if (state === undefined || state === 'up') {
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
    const state = this.processState(prev.id);
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
    const state = this.processState(prev.id);
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
