import type { HistoryEntry } from '../history.ts';
import type { JsonlRecord } from '../shiviz.ts';
import type { LiveCut } from './load.ts';

/**
 * The part of a run still being written that can be graded as if it were whole: a
 * consistent cut (Chandy and Lamport's sense: every event in it has all the events that
 * happen before it in it too).
 *
 * The tracing server appends records as they arrive, each process's in its own order but
 * interleaved with the others' by arrival, so the file's last lines may hold an event whose
 * cause (another host's event, named in its vector clock) has not arrived yet. Host h's
 * counters run 1, 2, 3... without gaps (ShiViz's strict rules, shiviz-rules.ts), so the
 * cut keeps, per host, its events up to the first counter missing, then drops every
 * event whose clock names an event outside the cut, until nothing changes.
 *
 * history.json (read before the trace) is cut to the operations answered inside the cut
 * (their ResultRecvd is in it); the other operations started in it are in flight. A write
 * in flight whose command the cut shows (an Apply or Commit) may already have taken effect:
 * it becomes a pending history entry (an error result: may take effect any time after the
 * first call, or never), so a read that saw it is not called wrong.
 */
export function liveCut(
  records: readonly JsonlRecord[],
  shiviz: string | null,
  history: HistoryEntry[] | null,
): { records: JsonlRecord[]; shiviz: string | null; history: HistoryEntry[] | null; live: LiveCut } {
  const byHost = new Map<string, Set<number>>();
  for (const r of records) {
    const own = r.clock[r.host];
    if (typeof own !== 'number') continue;
    const set = byHost.get(r.host) ?? new Set<number>();
    byHost.set(r.host, set);
    set.add(own);
  }
  // have[h]: h's events 1..have[h] are all in the cut.
  const have = new Map<string, number>();
  for (const [host, set] of byHost) {
    let c = 0;
    while (set.has(c + 1)) c++;
    have.set(host, c);
  }
  const inCut = (r: JsonlRecord) => Object.entries(r.clock).every(([h, c]) => c <= (have.get(h) ?? 0));
  // Each pass lowers some host's have (or stops): at most one pass per record.
  for (let pass = 0; pass <= records.length; pass++) {
    let changed = false;
    for (const r of records) {
      const own = r.clock[r.host];
      if (typeof own !== 'number' || own > (have.get(r.host) ?? 0) || inCut(r)) continue;
      have.set(r.host, own - 1);
      changed = true;
    }
    if (!changed) break;
  }
  const kept = records.filter((r) => typeof r.clock[r.host] === 'number' && inCut(r));
  const keptLines = new Set(kept.map((r) => r.line));

  // shiviz.log holds record i (trace.jsonl line i) at lines 2i+1 and 2i+2: blank the dropped
  // ones, so the lines of the kept events stay as in the file (ShiViz skips blank lines).
  let cutShiviz = shiviz;
  if (shiviz !== null) {
    const lines = shiviz.split('\n');
    for (const r of records) {
      if (keptLines.has(r.line)) continue;
      if (2 * r.line < lines.length) lines[2 * r.line] = '';
      if (2 * r.line + 1 < lines.length) lines[2 * r.line + 1] = '';
    }
    cutShiviz = lines.join('\n');
  }

  const answered = new Set(kept.filter((r) => r.tag.endsWith('ResultRecvd')).map((r) => r.traceId));
  const cutHistory = history === null ? null : history.filter((h) => answered.has(`${h.clientId}:${h.opId}`));
  const inHistory = new Set((cutHistory ?? []).map((h) => `${h.clientId}:${h.opId}`));
  const started = new Set(kept.filter((r) => r.tag === 'GetStart' || r.tag === 'PutStart').map((r) => r.traceId));
  const inFlight = [...started].filter((id) => !inHistory.has(id));
  const firstCall = cutHistory && cutHistory.length > 0 ? Math.min(...cutHistory.map((h) => h.call)) : 0;
  const pending: HistoryEntry[] = [];
  const flying = new Set(inFlight);
  for (const r of kept) {
    if (r.tag !== 'Apply' && r.tag !== 'Commit') continue;
    const command = commandOf(r.tag === 'Apply' ? r.body.command : r.body.operation);
    if (!command || !flying.has(`${command.clientId}:${command.opId}`)) continue;
    flying.delete(`${command.clientId}:${command.opId}`);
    pending.push({ ...command, call: firstCall, return: firstCall, error: 'in flight: the run is still being written' });
  }
  const line = records.length > 0 ? records[records.length - 1].line : 0;
  return { records: kept, shiviz: cutShiviz, history: cutHistory, live: { line, events: kept.length, total: records.length, inFlight: inFlight.length, pending } };
}

/** A client command of the log (src/kv/command.ts) with its op as written, or null. */
export function commandOf(text: unknown): Pick<HistoryEntry, 'clientId' | 'opId' | 'op'> | null {
  if (typeof text !== 'string' || !text.startsWith('{')) return null;
  try {
    const c = JSON.parse(text) as { clientId?: unknown; opId?: unknown; op?: unknown };
    if (typeof c.clientId !== 'string' || typeof c.opId !== 'number' || c.op === null || typeof c.op !== 'object') return null;
    return { clientId: c.clientId, opId: c.opId, op: c.op as HistoryEntry['op'] };
  } catch {
    return null;
  }
}
