import type { HistoryEntry } from '../history.ts';
import { parseCommand } from './command.ts';
import { at, describe, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * kvslib's promise (src/client/key-lock.ts): one client's operations on one key take effect
 * in OpId order, pipelined or not. Linearizability cannot see it when the operations
 * overlap in time, or when an earlier one ended with an error (it may then take effect
 * "any time after its call"): this rule checks it from the trace, per client and key.
 *
 * - Writes take effect at their log index: the lowest index of an executed `Apply` (not
 *   `duplicate`) of the command, whose `clientId`, `opId` and keys the command names.
 *   Per client and key, a lower OpId has a lower index.
 * - Reads take effect on the server that answers them: its `GetResult` (one that → the
 *   client's `GetResultRecvd`) sees the state machine up to the index that server holds
 *   then (its last `Apply` or `SnapshotRestored`). Every write of the client on a key read
 *   with a lower OpId has an index at or below it, every one with a higher OpId above it.
 *   With several such results (retries), one that satisfies this is enough.
 *
 * Writes that were never applied took no effect and are not ordered; reads without a
 * traced result (or of a client whose writes were not traced) are skipped.
 */
export function clientKeyOrderRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const writes = executedWrites(trace);
  // client -> key -> writes by OpId
  const byClientKey = new Map<string, Map<string, Write[]>>();
  for (const w of writes.values()) {
    const keys = byClientKey.get(w.clientId) ?? new Map<string, Write[]>();
    byClientKey.set(w.clientId, keys);
    for (const key of w.keys) keys.set(key, [...(keys.get(key) ?? []), w]);
  }
  let pairs = 0;
  for (const [client, keys] of byClientKey) {
    for (const [key, list] of keys) {
      list.sort((a, b) => a.opId - b.opId);
      let latest: Write | null = null; // the highest index so far
      for (const w of list) {
        if (latest && w.index < latest.index) {
          offenders.push(
            at(w.apply, `${client}:${w.opId} ${w.type}(${key}) took effect at index ${w.index}, before ${client}:${latest.opId} ${latest.type}(${key}), an earlier OpId, at index ${latest.index} (${describe(latest.apply)}): a client's operations on one key take effect in OpId order`),
          );
        }
        if (!latest || w.index > latest.index) latest = w;
        pairs++;
      }
    }
  }

  const held = heldAtResults(trace);
  const history = new Map((trace.history ?? []).map((h) => [`${h.clientId}:${h.opId}`, h]));
  let reads = 0;
  for (const recvd of trace.events({ tag: 'GetResultRecvd', where: (e) => e.body.error === undefined })) {
    const [client, opIdText] = splitTraceId(recvd.traceId);
    const opId = Number(opIdText);
    const keys = keysOfRead(trace, history, recvd.traceId);
    const mine = byClientKey.get(client);
    if (!mine || keys.length === 0) continue;
    const relevant = keys.flatMap((k) => (mine.get(k) ?? []).map((w) => ({ key: k, w })));
    if (relevant.length === 0) continue;
    const results = trace.events({ traceId: recvd.traceId, tag: 'GetResult', where: (e) => e.body.error === undefined && trace.hb(e, recvd) });
    if (results.length === 0) continue;
    reads++;
    const problems = results.map((r) => {
      const h = held.get(r) ?? 0;
      const wrong = relevant.find(({ w }) => (w.opId < opId ? w.index > h : w.opId > opId && w.index <= h));
      return { r, h, wrong };
    });
    if (problems.some((p) => !p.wrong)) continue;
    const { r, h, wrong } = problems[problems.length - 1];
    const { key, w } = wrong!;
    const how = w.opId < opId ? `its earlier ${client}:${w.opId} ${w.type}(${key}) took effect only at index ${w.index}` : `its later ${client}:${w.opId} ${w.type}(${key}) had already taken effect at index ${w.index}`;
    offenders.push(at(r, `${recvd.traceId} read ${key} on ${r.host} holding index ${h}, but ${how} (${describe(w.apply)}): a client's operations on one key take effect in OpId order`));
  }
  return result('client-key-order', offenders, { note: `${pairs} executed writes, ${reads} reads checked against the same client's writes to their keys` });
}

interface Write {
  clientId: string;
  opId: number;
  type: string;
  keys: string[];
  index: number;
  apply: TraceEvent;
}

/** Per `<client>:<opId>`: the command's lowest executed index, and the Apply there. */
function executedWrites(trace: Trace): Map<string, Write> {
  const out = new Map<string, Write>();
  for (const a of trace.events({ tag: 'Apply' })) {
    if (a.body.duplicate === true) continue;
    const index = Number(a.body.index);
    const c = parseCommand(a.body.command);
    if (!c || !Number.isSafeInteger(index)) continue;
    const before = out.get(c.id);
    if (!before || index < before.index) out.set(c.id, { clientId: c.clientId, opId: c.opId, type: c.type, keys: [...new Set(c.writes)], index, apply: a });
  }
  return out;
}

/** The index each server's state machine holds at each of its `GetResult`s (its own order, across lives). */
function heldAtResults(trace: Trace): Map<TraceEvent, number> {
  const out = new Map<TraceEvent, number>();
  for (const host of trace.serverHosts()) {
    let held = 0;
    for (const e of trace.hostEvents(host)) {
      if (e.tag === 'Apply' || e.tag === 'SnapshotRestored') {
        const index = Number(e.body.index);
        if (Number.isSafeInteger(index) && index > held) held = index;
      } else if (e.tag === 'GetResult') out.set(e, held);
    }
  }
  return out;
}

/** The keys a read names: history.json's (exact), else its Start's `key` split at commas. */
function keysOfRead(trace: Trace, history: ReadonlyMap<string, HistoryEntry>, traceId: string): string[] {
  const h = history.get(traceId);
  if (h) return h.op.type === 'get' ? [h.op.key] : h.op.type === 'mget' ? [...h.op.keys] : [];
  const start = trace.events({ traceId, tag: 'GetStart' })[0];
  return typeof start?.body.key === 'string' ? start.body.key.split(',') : [];
}

function splitTraceId(id: string): [string, string] {
  const i = id.lastIndexOf(':');
  return i < 0 ? [id, ''] : [id.slice(0, i), id.slice(i + 1)];
}
