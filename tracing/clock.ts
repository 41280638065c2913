/**
 * Vector clocks: one counter per host. A host's own counter counts its recorded
 * actions, so ShiViz can order each host's events by it.
 */
export type VectorClock = Record<string, number>;

type Ordering = 'before' | 'after' | 'equal' | 'concurrent';

/** True when every counter of `a` is <= the same counter of `b`. */
export function leq(a: VectorClock, b: VectorClock): boolean {
  for (const [host, n] of Object.entries(a)) {
    if (n > (b[host] ?? 0)) return false;
  }
  return true;
}

export function compare(a: VectorClock, b: VectorClock): Ordering {
  const ab = leq(a, b);
  const ba = leq(b, a);
  if (ab && ba) return 'equal';
  if (ab) return 'before';
  if (ba) return 'after';
  return 'concurrent';
}

/** a happens-before b: a <= b and a != b. */
export function happensBefore(a: VectorClock, b: VectorClock): boolean {
  return compare(a, b) === 'before';
}

/** Stable JSON with hosts sorted, so equal clocks serialize equally. */
export function serializeClock(clock: VectorClock): string {
  const sorted: VectorClock = {};
  for (const host of Object.keys(clock).sort()) {
    if (clock[host] > 0) sorted[host] = clock[host];
  }
  return JSON.stringify(sorted);
}

/** True when serializeClock would write the clock's keys in the order they have (ascending, no zeros). */
export function isCanonicalClock(clock: VectorClock): boolean {
  let previous = '';
  for (const host in clock) {
    if (host <= previous || !(clock[host] > 0)) return false;
    previous = host;
  }
  return true;
}

export function parseClock(text: string): VectorClock {
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`clock is not a JSON object: ${text}`);
  }
  const clock: VectorClock = {};
  for (const [host, n] of Object.entries(value as Record<string, unknown>)) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new Error(`clock counter for ${host} is not a non-negative integer: ${text}`);
    }
    clock[host] = n;
  }
  return clock;
}
