import { leq, type VectorClock } from '../clock.ts';
import { parseShiViz, type ShiVizEvent } from '../shiviz.ts';

/**
 * The rules ShiViz (in strict mode) enforces before it will draw a log, checked here so a
 * test fails on a log ShiViz would reject. Unlike ShiViz, which stops at the first problem,
 * every offending event is reported.
 */

export interface Violation {
  rule: string;
  message: string;
  host?: string;
  clock?: VectorClock;
  line?: number;
}

/** Checks a ShiViz file as written: lines that cannot be read are violations too. */
export function checkShiVizLog(text: string): Violation[] {
  const { events, errors } = parseShiViz(text);
  return [...errors.map(({ line, message }) => ({ rule: 'parse', message, line })), ...checkShiViz(events)];
}

export function checkShiViz(events: readonly ShiVizEvent[]): Violation[] {
  const violations: Violation[] = [];
  const report = (rule: string, e: ShiVizEvent, message: string): void => {
    violations.push({ rule, message, host: e.host, clock: e.clock, line: e.line });
  };

  const hosts = new Set<string>();
  // An event without its own counter has no place in its host's order, so only the rules
  // about its clock entries apply to it.
  const ordered = new Map<string, ShiVizEvent[]>();
  for (const e of events) {
    hosts.add(e.host);
    if (!Object.hasOwn(e.clock, e.host)) {
      report('own-host-in-clock', e, `the clock of ${e.host} has no entry for ${e.host}`);
      continue;
    }
    const list = ordered.get(e.host);
    if (list) list.push(e);
    else ordered.set(e.host, [e]);
  }

  const byCounter = new Map<string, Map<number, ShiVizEvent>>();
  for (const [host, list] of ordered) {
    list.sort((a, b) => a.clock[host] - b.clock[host]);
    const counters = new Map<number, ShiVizEvent>();
    list.forEach((e, i) => {
      const n = e.clock[host];
      if (i === 0) {
        if (n !== 1) report('first-counter-is-1', e, `the first event of ${host} has counter ${n}`);
      } else {
        const before = list[i - 1].clock[host];
        if (n !== before + 1) {
          report('counter-contiguous', e, n === before ? `${host} repeats counter ${n}` : `${host} goes from ${before} to ${n}`);
        }
      }
      if (!counters.has(n)) counters.set(n, e);
    });
    byCounter.set(host, counters);
  }

  for (const e of events) {
    forEachForeignEntry(e, (h, c) => {
      if (!hosts.has(h)) report('unknown-host', e, `the clock names ${h}, which has no events`);
      else if (!byCounter.get(h)?.has(c)) report('unknown-counter', e, `the clock names ${h}:${c}, which ${h} never logged`);
    });
  }

  for (const [host, list] of ordered) {
    let previous: ShiVizEvent | undefined;
    let previousConsistent = false;
    for (const e of list) {
      const monotonic = !previous || leq(previous.clock, e.clock);
      if (!monotonic && previous) {
        report('monotonic-clock', e, `${host} forgets ${exceeding(previous.clock, e.clock)} known at ${host}:${previous.clock[host]}`);
      }
      // An entry unchanged since a consistent predecessor that this clock covers was checked
      // through that predecessor; skipping it keeps the pass near O(events) even when
      // servers' clocks name every client.
      const vouched = previousConsistent && monotonic ? previous : undefined;
      let consistent = true;
      forEachForeignEntry(e, (h, c) => {
        if (vouched && vouched.clock[h] === c) return;
        const source = byCounter.get(h)?.get(c);
        if (!source) return;
        if (!leq(source.clock, e.clock)) {
          consistent = false;
          report('causal-transitivity', e, `knows ${h}:${c} (line ${source.line}) but not ${exceeding(source.clock, e.clock)} that it knew`);
        } else if ((source.clock[host] ?? 0) > 0 && source.clock[host] >= e.clock[host]) {
          consistent = false;
          report('causal-transitivity', e, `knows ${h}:${c} (line ${source.line}), which already knows this event: a cycle`);
        }
      });
      previous = e;
      previousConsistent = consistent;
    }
  }
  return violations;
}

/**
 * Visits the entries naming other hosts; ShiViz drops zero entries, which mean "knows
 * nothing". for-in, because Object.entries is an order of magnitude slower on clocks
 * parsed from JSON, and this runs for every entry of every event.
 */
function forEachForeignEntry(e: ShiVizEvent, visit: (host: string, counter: number) => void): void {
  for (const h in e.clock) {
    const c = e.clock[h];
    if (h !== e.host && c !== 0) visit(h, c);
  }
}

/** The entries of `a` that `b` lacks, as `host:counter`. */
function exceeding(a: VectorClock, b: VectorClock): string {
  return Object.entries(a)
    .filter(([h, c]) => c > (b[h] ?? 0))
    .map(([h, c]) => `${h}:${c}`)
    .join(', ');
}
