import type { HistoryEntry } from '../history.ts';
import { mergeAttempts } from './attempts.ts';
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
 *   And it returns what the client's latest earlier write to the key left there (put's
 *   value, "" after a delete, an incr's result), unless another write of the key took
 *   effect after it up to that index (or the trace does not show every entry between, or
 *   the key was ever set to expire). With several such results (retries), one that
 *   satisfies all this is enough.
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
    for (const key of w.keys) push(keys, key, w);
  }
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
      }
    }
  }

  const held = heldAtResults(trace);
  // One entry per operation: a retried one's answered attempt (attempts.ts).
  const history = new Map(mergeAttempts(trace.history ?? []).map((h) => [`${h.clientId}:${h.opId}`, h]));
  const byKey = new Map<string, Write[]>(); // every client's executed writes per key, by index
  for (const w of writes.values()) for (const key of w.keys) push(byKey, key, w);
  for (const list of byKey.values()) list.sort((a, b) => a.index - b.index);
  const logged = loggedIndexes(trace);
  const expiring = new Set([...writes.values()].filter((w) => w.type === 'expire').flatMap((w) => w.keys));
  let reads = 0;
  for (const recvd of trace.events({ tag: 'GetResultRecvd', where: (e) => e.body.error === undefined })) {
    const [client, opIdText] = splitTraceId(recvd.traceId);
    const opId = Number(opIdText);
    const read = readOf(history, recvd);
    const mine = byClientKey.get(client);
    if (!mine || read.length === 0) continue;
    const relevant = read.flatMap(({ key, value }) => (mine.get(key) ?? []).map((w) => ({ key, value, w })));
    if (relevant.length === 0) continue;
    const results = trace.events({ traceId: recvd.traceId, tag: 'GetResult', where: (e) => e.body.error === undefined && trace.hb(e, recvd) });
    if (results.length === 0) continue;
    reads++;
    const problems = results.map((r) => problemOf(r, held.get(r) ?? 0));
    if (problems.some((p) => p === null)) continue;
    offenders.push(at(results[results.length - 1], problems[problems.length - 1]!));

    /** What is wrong with the read as `r` answered it, holding index `h`; null when nothing is. */
    function problemOf(r: TraceEvent, h: number): string | null {
      const order = relevant.find(({ w }) => (w.opId < opId ? w.index > h : w.opId > opId && w.index <= h));
      if (order) {
        const { key, w } = order;
        const how = w.opId < opId ? `its earlier ${client}:${w.opId} ${w.type}(${key}) took effect only at index ${w.index}` : `its later ${client}:${w.opId} ${w.type}(${key}) had already taken effect at index ${w.index}`;
        return `${recvd.traceId} read ${key} on ${r.host} holding index ${h}, but ${how} (${describe(w.apply)}): a client's operations on one key take effect in OpId order`;
      }
      // The value: the client's latest earlier write to the key, unless another took effect after it.
      for (const { key, value } of read) {
        const last = (mine!.get(key) ?? []).filter((w) => w.opId < opId).sort((a, b) => b.index - a.index)[0];
        if (!last || value === undefined) continue;
        const wrote = writtenValue(history, last, key);
        if (wrote === undefined) continue;
        if (expiring.has(key)) continue; // its value may vanish with (log) time
        const between = (byKey.get(key) ?? []).some((w) => w.index > last.index && w.index <= h);
        if (between || !covers(logged, last.index, h)) continue;
        if (value !== wrote) {
          return `${recvd.traceId} read ${key} = ${JSON.stringify(value)} on ${r.host} holding index ${h}, but its earlier ${client}:${last.opId} ${last.type}(${key}) left ${JSON.stringify(wrote)} at index ${last.index} (${describe(last.apply)}) and no write of ${key} took effect after it up to ${h}: a read sees its client's latest earlier write`;
        }
      }
      return null;
    }
  }
  return result('client-key-order', offenders, { note: `${writes.size} executed writes, ${reads} reads checked against the same client's writes to their keys` });
}

/** Indexes whose command the trace shows (an Apply or Commit). */
function loggedIndexes(trace: Trace): Set<number> {
  return new Set(trace.events({ tag: ['Apply', 'Commit'] }).map((e) => Number(e.body.index)));
}

/** Every index in (from, to] shows its command: no write there can hide from the rule. */
function covers(logged: ReadonlySet<number>, from: number, to: number): boolean {
  for (let i = from + 1; i <= to; i++) if (!logged.has(i)) return false;
  return true;
}

/** What `w` left in `key`: from its command, or an incr's result from history.json; undefined when unknown or when it failed. */
function writtenValue(history: ReadonlyMap<string, HistoryEntry>, w: Write, key: string): string | undefined {
  if (w.failed) return undefined;
  const fromCommand = w.values.get(key);
  if (fromCommand !== undefined) return fromCommand;
  const h = history.get(`${w.clientId}:${w.opId}`);
  return w.type === 'incr' && h && h.error === undefined && !h.failed ? h.output?.value : undefined;
}

interface Write {
  clientId: string;
  opId: number;
  type: string;
  keys: string[];
  /** What it left in each key, where its command says (put, mput, delete). */
  values: Map<string, string>;
  /** Its Apply carries an error: it changed nothing. */
  failed: boolean;
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
    if (!before || index < before.index) out.set(c.id, { clientId: c.clientId, opId: c.opId, type: c.type, keys: [...new Set(c.writes)], values: c.values, failed: a.body.error !== undefined, index, apply: a });
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

/**
 * The keys a read names, with the values it returned: from history.json (exact), else its
 * Start's `key` split at commas, with the ResultRecvd's value for a single key.
 */
function readOf(history: ReadonlyMap<string, HistoryEntry>, recvd: TraceEvent): { key: string; value: string | undefined }[] {
  const h = history.get(recvd.traceId);
  if (h) {
    if (h.op.type === 'get') return [{ key: h.op.key, value: h.output?.value }];
    if (h.op.type === 'mget') return h.op.keys.map((key, i) => ({ key, value: h.output?.values?.[i] }));
    return [];
  }
  const keys = typeof recvd.body.key === 'string' ? recvd.body.key.split(',') : [];
  return keys.map((key) => ({ key, value: keys.length === 1 && typeof recvd.body.value === 'string' ? recvd.body.value : undefined }));
}

function splitTraceId(id: string): [string, string] {
  const i = id.lastIndexOf(':');
  return i < 0 ? [id, ''] : [id.slice(0, i), id.slice(i + 1)];
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
