import type { OpResult } from './command.ts';

/**
 * Results kept per client. A client with more operations than this unanswered at once
 * loses the oldest results; a late copy of one of those gets an error, never a second
 * application. Bounds memory at about this many results per client.
 */
export const MAX_CACHED_RESULTS_PER_CLIENT = 1024;

interface ClientSession {
  /** Every opId below this has been answered to the client, so it will not ask again. */
  firstUnacked: number;
  /** An uncached opId below this is refused: the cap may have evicted its result. */
  evictedBelow: number;
  results: Map<number, OpResult>;
}

export interface SessionView {
  clientId: string;
  firstUnacked: number;
  evictedBelow: number;
  cachedOpIds: number[];
}

/**
 * Makes retries exactly-once. A client may have several operations in flight, so opIds
 * arrive out of order and one "last opId" per client is not enough: the table keeps the
 * result of every applied opId the client may still retry, i.e. those >= firstUnacked.
 */
export class SessionTable {
  private readonly clients = new Map<string, ClientSession>();

  /** The answer for an operation that must not be applied (again), or null to apply it. */
  admit(clientId: string, opId: number, firstUnacked: number): OpResult | null {
    const session = this.session(clientId);
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
    const session = this.session(clientId);
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
        cachedOpIds: [...s.results.keys()].sort((a, b) => a - b),
      }));
  }

  private session(clientId: string): ClientSession {
    let session = this.clients.get(clientId);
    if (session === undefined) {
      session = { firstUnacked: 0, evictedBelow: 0, results: new Map() };
      this.clients.set(clientId, session);
    }
    return session;
  }
}
