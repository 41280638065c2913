import type { OpResult } from './command.ts';
import type { SnapshotSession } from './snapshot-format.ts';

/**
 * Results kept per client. A client with more operations than this unanswered at once
 * loses the oldest results; a late copy of one of those gets an error, never a second
 * application. Bounds memory at about this many results per client.
 */
export const MAX_CACHED_RESULTS_PER_CLIENT = 1024;

/**
 * A client whose last command is older than this, in log time, is forgotten: every CLI run
 * is a client, and without a bound each would leave its session behind forever. A retry
 * is exactly-once only within this time of the client's previous command (`raftkv retry`
 * refuses older ones).
 */
export const SESSION_IDLE_MS = 60 * 60 * 1000;

/** At most this many sessions; beyond it the one idle longest (in log time) goes first. */
export const MAX_SESSIONS = 10_000;

interface ClientSession {
  /** Every opId below this has been answered to the client, so it will not ask again. */
  firstUnacked: number;
  /** An uncached opId below this is refused: the cap may have evicted its result. */
  evictedBelow: number;
  /** Log time of this client's latest command. */
  lastSeen: number;
  results: Map<number, OpResult>;
}

export interface SessionView {
  clientId: string;
  firstUnacked: number;
  evictedBelow: number;
  lastSeen: number;
  cachedOpIds: number[];
}

interface SessionLimits {
  idleMs: number;
  maxSessions: number;
}

/**
 * Makes retries exactly-once. A client may have several operations in flight, so opIds
 * arrive out of order and one "last opId" per client is not enough: the table keeps the
 * result of every applied opId the client may still retry, i.e. those >= firstUnacked.
 *
 * Sessions expire by log time (the `ts` of the commands, as TTLs do), never by a clock
 * read at apply time, so every replica drops the same session at the same entry. The map
 * is kept in order of last activity (a touched session moves to the end, and log time
 * never goes back), so expiry looks only at its head.
 */
export class SessionTable {
  private readonly clients = new Map<string, ClientSession>();
  private readonly limits: SessionLimits;

  constructor(limits: Partial<SessionLimits> = {}) {
    this.limits = { idleMs: SESSION_IDLE_MS, maxSessions: MAX_SESSIONS, ...limits };
  }

  /**
   * The answer for an operation that must not be applied (again), or null to apply it.
   * `now` is log time with this command applied.
   */
  admit(clientId: string, opId: number, firstUnacked: number, now: number): OpResult | null {
    this.expire(now);
    const session = this.touch(clientId, now);
    if (firstUnacked > session.firstUnacked) {
      session.firstUnacked = firstUnacked;
      for (const id of session.results.keys()) if (id < firstUnacked) session.results.delete(id);
    }
    const cached = session.results.get(opId);
    if (cached !== undefined) return cached;
    if (opId < session.firstUnacked) return { ok: false, error: 'duplicate of an operation already answered' };
    if (opId < session.evictedBelow) {
      return {
        ok: false,
        error: `not applied: opId ${opId} is older than the ${MAX_CACHED_RESULTS_PER_CLIENT} results kept for this client`,
      };
    }
    return null;
  }

  /** After applying an admitted operation. */
  record(clientId: string, opId: number, result: OpResult): void {
    const session = this.clients.get(clientId);
    if (session === undefined) throw new Error(`record for ${clientId} without admit`);
    session.results.set(opId, result);
    if (session.results.size <= MAX_CACHED_RESULTS_PER_CLIENT) return;
    const lowest = Math.min(...session.results.keys());
    session.results.delete(lowest);
    session.evictedBelow = Math.max(session.evictedBelow, lowest + 1);
  }

  view(): SessionView[] {
    return [...this.clients]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([clientId, s]) => ({
        clientId,
        firstUnacked: s.firstUnacked,
        evictedBelow: s.evictedBelow,
        lastSeen: s.lastSeen,
        cachedOpIds: [...s.results.keys()].sort((a, b) => a - b),
      }));
  }

  /** Every session with its cached results, least recently active first (the order expiry and the cap rely on). */
  dump(): SnapshotSession[] {
    return [...this.clients].map(([clientId, s]) => ({ clientId, firstUnacked: s.firstUnacked, evictedBelow: s.evictedBelow, lastSeen: s.lastSeen, results: [...s.results] }));
  }

  /** Replaces the table with `sessions` (from dump()), keeping their order. */
  load(sessions: SnapshotSession[]): void {
    this.clients.clear();
    for (const s of sessions) this.clients.set(s.clientId, { firstUnacked: s.firstUnacked, evictedBelow: s.evictedBelow, lastSeen: s.lastSeen, results: new Map(s.results) });
  }

  /** Drops sessions idle for more than idleMs of log time, oldest first. */
  private expire(now: number): void {
    for (const [id, s] of this.clients) {
      if (now - s.lastSeen <= this.limits.idleMs) break;
      this.clients.delete(id);
    }
  }

  /** The client's session, created if new, moved to the end (most recent) at log time `now`. */
  private touch(clientId: string, now: number): ClientSession {
    let session = this.clients.get(clientId);
    if (session === undefined) {
      session = { firstUnacked: 0, evictedBelow: 0, lastSeen: now, results: new Map() };
    } else {
      this.clients.delete(clientId);
      session.lastSeen = Math.max(session.lastSeen, now);
    }
    this.clients.set(clientId, session);
    // The session just touched is last, so the cap never drops it.
    for (const id of this.clients.keys()) {
      if (this.clients.size <= this.limits.maxSessions) break;
      this.clients.delete(id);
    }
    return session;
  }
}
