import type { VectorClock } from '../clock.ts';
import type { JsonlRecord } from '../shiviz.ts';

/**
 * Where events go on the lanes, as ShiViz lays a log out: message edges inferred from
 * vector clocks, and a logical time ("level") per event that every edge and every host's
 * own order moves forward.
 */

export interface LaidOutEvent {
  record: JsonlRecord;
  /** `host:counter`. */
  id: string;
  level: number;
}

export interface Layout {
  /** Every event, by level (then host, then counter). */
  events: LaidOutEvent[];
  edges: { from: string; to: string }[];
  /** Receives whose direct sender is not in the trace (its process lost the tail of its log, or it never reached the tracing server). */
  unmatchedReceives: number;
}

/** `host:counter`, the host's own clock entry. */
export function eventId(host: string, clock: VectorClock): string {
  return `${host}:${clock[host] ?? 0}`;
}

/**
 * Infers message edges and levels. For an event e on host H whose clock names a later
 * event of another host G than H's previous event did, the event of G at e's counter for
 * G is a candidate sender; candidates that happen before another candidate were only
 * known through it, so they are dropped (ShiViz's transitive reduction), and what is
 * left sent e its token. When one of those events is missing from the trace (the lost tail
 * of a killed process), e gets no arrow: the others may have come through it. Levels: one
 * more than its highest predecessor (the host's previous event and its senders), and at
 * least what arrived a little earlier (below). O(events x hosts + sorting).
 */
export function layOut(records: readonly JsonlRecord[]): Layout {
  const byHost = new Map<string, JsonlRecord[]>();
  for (const r of records) {
    const list = byHost.get(r.host);
    if (list) list.push(r);
    else byHost.set(r.host, [r]);
  }
  const at = new Map<string, JsonlRecord>();
  const prevOf = new Map<JsonlRecord, JsonlRecord>();
  for (const [host, list] of byHost) {
    list.sort((a, b) => (a.clock[host] ?? 0) - (b.clock[host] ?? 0));
    list.forEach((r, i) => {
      at.set(eventId(host, r.clock), r);
      if (i > 0) prevOf.set(r, list[i - 1]);
    });
  }
  const senders = new Map<JsonlRecord, JsonlRecord[]>();
  const edges: Layout['edges'] = [];
  let unmatchedReceives = 0;
  for (const r of records) {
    const prev = prevOf.get(r);
    const candidates: JsonlRecord[] = [];
    let learned = false;
    let missing = false;
    for (const [host, n] of Object.entries(r.clock)) {
      if (host === r.host || n <= (prev?.clock[host] ?? 0)) continue;
      learned = true;
      const s = at.get(`${host}:${n}`);
      if (s) candidates.push(s);
      else missing = true;
    }
    if (!learned) continue;
    // With a learned event missing from the trace, the others may have come through it:
    // no arrow rather than a wrong one.
    const direct = missing ? [] : candidates.filter((c) => !candidates.some((d) => d !== c && leq(c.clock, d.clock)));
    if (direct.length === 0 || !explains(r, prev, direct)) unmatchedReceives++;
    senders.set(r, direct);
    for (const s of direct) edges.push({ from: eventId(s.host, s.clock), to: eventId(r.host, r.clock) });
  }
  // Arrival order at the tracing server (trace.jsonl's lines) roughly follows real time;
  // made consistent with happens-before, it orders the sweep below: every predecessor first.
  const sum = (c: VectorClock) => Object.values(c).reduce((a, b) => a + b, 0);
  const byClock = [...records].sort((a, b) => sum(a.clock) - sum(b.clock));
  const arrival = new Map<JsonlRecord, number>();
  for (const r of byClock) {
    let a = r.line;
    const prev = prevOf.get(r);
    if (prev) a = Math.max(a, arrival.get(prev) ?? 0);
    for (const s of senders.get(r) ?? []) a = Math.max(a, arrival.get(s) ?? 0);
    arrival.set(r, a);
  }
  const order = [...records].sort((a, b) => arrival.get(a)! - arrival.get(b)! || sum(a.clock) - sum(b.clock));
  // Level: one past its host's previous event and its senders, and no left of what arrived
  // `window` records earlier: a client's request made late in the run is drawn late, not
  // beside the first elections (which happens-before alone would allow).
  const window = 4 * byHost.size + 8;
  const level = new Map<JsonlRecord, number>();
  const highest: number[] = [];
  order.forEach((r, i) => {
    let l = i >= window ? highest[i - window] : 0;
    const prev = prevOf.get(r);
    if (prev) l = Math.max(l, (level.get(prev) ?? 0) + 1);
    for (const s of senders.get(r) ?? []) l = Math.max(l, (level.get(s) ?? 0) + 1);
    level.set(r, l);
    highest.push(Math.max(l, i > 0 ? highest[i - 1] : 0));
  });
  const events = records
    .map((record) => ({ record, id: eventId(record.host, record.clock), level: level.get(record) ?? 0 }))
    .sort((a, b) => a.level - b.level || (a.record.host < b.record.host ? -1 : a.record.host > b.record.host ? 1 : 0) || (a.record.clock[a.record.host] ?? 0) - (b.record.clock[b.record.host] ?? 0));
  return { events, edges, unmatchedReceives };
}

function leq(a: VectorClock, b: VectorClock): boolean {
  for (const [h, n] of Object.entries(a)) if (n > (b[h] ?? 0)) return false;
  return true;
}

/** The senders' clocks merged into the previous event's explain every other host's counter of `r`. */
function explains(r: JsonlRecord, prev: JsonlRecord | undefined, senders: JsonlRecord[]): boolean {
  for (const [host, n] of Object.entries(r.clock)) {
    if (host === r.host) continue;
    const known = Math.max(prev?.clock[host] ?? 0, ...senders.map((s) => s.clock[host] ?? 0));
    if (known !== n) return false;
  }
  return true;
}
