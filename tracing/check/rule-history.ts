import type { HistoryEntry } from '../history.ts';
import { at, describe, nowhere, result, skip, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * history.json and the trace tell the same story: every operation started in the trace has
 * one history entry and vice versa, with the same key(s) and the same value or error as its
 * ResultRecvd. (Linearizability is checked on history.json; this ties it to the trace.)
 * An operation retried in a later life of its client (`raftkv retry`) has one Start and one
 * entry per answered attempt, matched in order; an attempt cut short by its client's death
 * (no ResultRecvd, no KvslibStop in its life: trace.lifeDied) needs no entry. On a run still
 * being written, operations in flight (no entry yet) are not judged.
 */
export function historyMatchesTraceRule(trace: Trace): RuleResult {
  const history = trace.history;
  if (history === null) return skip('history-trace', 'history.json is missing or unreadable (the files rule fails)');
  const offenders: Offender[] = [];
  // Per operation, its entries by call: one per attempt (a retry in a later life repeats it after an error).
  const attempts = new Map<string, HistoryEntry[]>();
  for (const h of [...history].sort((a, b) => a.call - b.call)) {
    const id = `${h.clientId}:${h.opId}`;
    const list = attempts.get(id) ?? [];
    if (list.length > 0 && list[list.length - 1].error === undefined) offenders.push(nowhere(h.clientId, `history.json holds ${id} twice`));
    attempts.set(id, [...list, h]);
  }
  const started = new Set<string>();
  const nth = new Map<string, number>();
  const byCounter = (a: TraceEvent, b: TraceEvent) => trace.counter(a) - trace.counter(b);
  for (const id of trace.traceIds()) {
    const starts = trace.events({ traceId: id, tag: ['GetStart', 'PutStart'] }).sort(byCounter);
    if (starts.length === 0) continue;
    started.add(id);
    nth.set(id, starts.length);
    const recvdsOf = trace.events({ traceId: id, tag: ['GetResultRecvd', 'PutResultRecvd'] }).sort(byCounter);
    // Each attempt's ResultRecvd: on its client, after its Start, before the next attempt's.
    const recvds = starts.map((s, i) => recvdsOf.find((r) => r.host === s.host && trace.counter(r) > trace.counter(s) && (i + 1 >= starts.length || trace.counter(r) < trace.counter(starts[i + 1]))));
    const entries = attempts.get(id) ?? [];
    let next = 0;
    starts.forEach((s, i) => {
      const recvd = recvds[i];
      // An attempt cut short by its client's death has an entry only if its process wrote one.
      const answeredLeft = recvds.slice(i).filter((r) => r !== undefined).length;
      const h = recvd || entries.length - next > answeredLeft ? entries[next++] : undefined;
      if (!h) {
        // A run still being written: its history.json lags, and load.ts kept only the entries answered in the cut.
        if (!trace.live && !trace.lifeDied(s)) offenders.push(at(s, `${s.traceId} is not in history.json`));
        return;
      }
      const family = h.op.type === 'get' || h.op.type === 'mget' ? 'Get' : 'Put';
      if (!s.tag.startsWith(family)) offenders.push(at(s, `${s.tag}, but history.json says ${s.traceId} is ${h.op.type}`));
      const keys = h.op.type === 'mget' ? h.op.keys : h.op.type === 'mput' ? h.op.pairs.map((p) => p.key) : [h.op.key];
      if (s.body.key !== keys.join(',')) offenders.push(at(s, `${s.tag} names key ${JSON.stringify(s.body.key)}, history.json ${JSON.stringify(keys.join(','))}`));
      if (!recvd) return; // operation-order reports it
      const error = recvd.body.error;
      if ((error !== undefined) !== (h.error !== undefined)) {
        offenders.push(at(recvd, `${describe(recvd)} ${error === undefined ? 'succeeded' : `failed (${String(error)})`}, history.json says ${h.error === undefined ? 'succeeded' : `failed (${h.error})`}`));
      } else if (h.error === undefined && recvd.body.value !== h.output?.value) {
        offenders.push(at(recvd, `${describe(recvd)} got ${JSON.stringify(recvd.body.value)}, history.json says ${JSON.stringify(h.output?.value)}`));
      }
    });
  }
  for (const [id, list] of attempts) {
    if (!started.has(id)) offenders.push(nowhere(list[0].clientId, `history.json holds ${id} (${list[0].op.type}), which has no Start in the trace`));
    else if (list.length > (nth.get(id) ?? 0)) offenders.push(nowhere(list[0].clientId, `history.json holds ${id} ${list.length} times, the trace ${nth.get(id)} Starts`));
  }
  return result('history-trace', offenders, { note: trace.live && trace.live.inFlight > 0 ? `${trace.live.inFlight} operations in flight, not judged (run still being written)` : undefined });
}
