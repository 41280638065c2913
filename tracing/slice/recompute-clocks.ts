import type { VectorClock } from '../clock.ts';

/**
 * Vector clocks for a subset of a run's events, so that the subset is a ShiViz log of its
 * own: each host's kept events are numbered 1, 2, 3, ... in their original order, and one
 * kept event happens before another exactly when it did in the full run, also when the
 * only path between them ran through events that were dropped.
 *
 * Why it works: in a valid run, event k of host g happens-before-or-equals event e iff
 * k's own counter <= e.clock[g] (Fidge/Mattern). The new entry of e for g is the number of
 * kept events of g that happen before or equal e, i.e. how many kept own-counters of g are
 * <= e.clock[g]: a binary search over g's kept counters. That is the standard vector clock
 * of the kept events' induced order (each entry counts the down-set on one host's chain),
 * so comparing new clocks gives back exactly the original relation, with no new edges.
 * Cost: O(kept events x hosts in a clock x log kept events); the dropped events are not
 * needed at all, their effect is already in the kept events' original clocks.
 */

/** A kept event as the full run recorded it. */
export interface KeptEvent {
  host: string;
  /** The original clock; must have an entry for `host` (its own counter). */
  clock: VectorClock;
}

/** The input is not a valid ShiViz run (a missing own counter, a counter repeated on a host). */
export class ClockError extends Error {
  override name = 'ClockError';
}

/**
 * The new clock of each event, in input order; entries for hosts without kept events,
 * and zero entries, are left out. Throws ClockError when an event has no own counter or
 * two kept events of one host share their own counter.
 */
export function recomputeClocks(events: readonly KeptEvent[]): VectorClock[] {
  // Each host's kept own-counters, ascending: the rank of a counter is the new counter.
  const counters = new Map<string, number[]>();
  for (const e of events) {
    const own = e.clock[e.host];
    if (!(Number.isInteger(own) && own > 0)) throw new ClockError(`an event of ${e.host} has no counter of its own in ${JSON.stringify(e.clock)}`);
    const list = counters.get(e.host);
    if (list) list.push(own);
    else counters.set(e.host, [own]);
  }
  const sorted = new Map<string, Float64Array>();
  for (const [host, list] of counters) {
    const arr = Float64Array.from(list).sort();
    for (let i = 1; i < arr.length; i++) {
      if (arr[i] === arr[i - 1]) throw new ClockError(`${host} has two events with counter ${arr[i]}: the trace is not valid ShiViz input (raftkv check shows where)`);
    }
    sorted.set(host, arr);
  }

  return events.map((e) => {
    const out: VectorClock = {};
    // for-in: far cheaper than Object.entries on clocks parsed from JSON (see shiviz-rules.ts).
    for (const g in e.clock) {
      const arr = sorted.get(g);
      const c = e.clock[g];
      if (!arr || !(c > 0)) continue;
      const n = countAtMost(arr, c);
      if (n > 0) out[g] = n;
    }
    return out;
  });
}

/** How many values of ascending `arr` are <= `x`. */
function countAtMost(arr: Float64Array, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
