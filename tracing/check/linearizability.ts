import type { HistoryEntry } from '../history.ts';
import { mergeAttempts } from './attempts.ts';

/**
 * Linearizability of a KV client history, checked per key as Porcupine does: the
 * Wing & Gong search with Lowe's memoization (a set of (linearized ops, state) pairs
 * already explored), over each key's operations separately.
 *
 * The model per key (state: the value, or null when the key does not exist):
 *   get / one key of mget  read: the output is the value ("" when absent)
 *   put / one pair of mput  write: the state becomes the value (put's output, if known, is that value)
 *   delete                  the output is the old value ("" when absent); the key is gone
 *   incr                    a missing key counts as 0; a successful incr needs a base-10 safe
 *                           integer and returns the new value
 * An operation that failed deterministically (`failed`) changed nothing and is dropped;
 * one with another error may or may not have taken effect: a read is dropped, a write is
 * pending (it may take effect any time after its call, or never: its return is infinite).
 * Keys ever touched by expire are skipped (their values change with time). The entries of
 * one (clientId, opId) are attempts of one operation (attempts.ts: mergeAttempts): its call
 * is the first attempt's, its return and result those of the attempt that was answered.
 *
 * The value before the history is "absent" for a run that started from empty data. For a
 * run that started over existing data (initial-state.ts) it may be `unknown`: any one value,
 * which the search fixes when it places the first operation that observes it (a read, a
 * delete's old value, an incr's result), so two reads with nothing written between must
 * still agree. A read of "" takes the key as absent, which explains everything a present
 * empty value would (an incr on "" fails, on an absent key it counts from 0).
 */

/** The key's value before the history, when not known: any one value (see above). */
const UNKNOWN: unique symbol = Symbol('unknown initial value');

type KvState = string | null | typeof UNKNOWN;

type LinKind = 'read' | 'write' | 'delete' | 'incr';

export interface LinOp {
  key: string;
  kind: LinKind;
  /** What a write writes. */
  value?: string;
  /** The observed output for this key; undefined when unknown (a pending op, an mput). */
  output?: string;
  call: number;
  /** Infinity for a pending op. */
  ret: number;
  /** Where it came from, for reports. */
  entry?: HistoryEntry;
}

const INTEGER = /^-?\d+$/;

/** The model's transition: the next state, or undefined when `op` cannot happen in `state`. */
function stepKv(state: KvState, op: LinOp): KvState | undefined {
  if (state === UNKNOWN) return stepUnknown(op);
  switch (op.kind) {
    case 'read':
      return op.output === undefined || op.output === (state ?? '') ? state : undefined;
    case 'write':
      return op.output === undefined || op.output === op.value ? (op.value ?? '') : undefined;
    case 'delete':
      return op.output === undefined || op.output === (state ?? '') ? null : undefined;
    case 'incr': {
      const current = state ?? '0';
      const n = Number(current);
      if (!INTEGER.test(current) || !Number.isSafeInteger(n) || n === Number.MAX_SAFE_INTEGER) {
        // It would fail and change nothing: possible only for an op whose outcome is unknown.
        return op.output === undefined ? state : undefined;
      }
      const next = String(n + 1);
      return op.output === undefined || op.output === next ? next : undefined;
    }
  }
}

/**
 * The transition from the unknown initial value: the first operation that observes it fixes
 * it (to what that operation saw), a write replaces it unseen. An incr whose outcome is
 * unknown leaves it unknown (it may have counted up from an unknown integer, or failed on
 * text): a little looser than exact, for an operation that tells nothing itself.
 */
function stepUnknown(op: LinOp): KvState | undefined {
  switch (op.kind) {
    case 'read':
      return op.output === undefined ? UNKNOWN : op.output === '' ? null : op.output;
    case 'write':
      return op.output === undefined || op.output === op.value ? (op.value ?? '') : undefined;
    case 'delete':
      return null; // whatever it returned was the value before
    case 'incr': {
      if (op.output === undefined) return UNKNOWN;
      // The result of counting up from some safe integer (or from absent, for "1").
      const n = Number(op.output);
      return INTEGER.test(op.output) && String(n) === op.output && Number.isSafeInteger(n - 1) ? op.output : undefined;
    }
  }
}

type Verdict = true | false | 'unknown';

export interface CheckOptions {
  /** Search steps before giving up with 'unknown'. */
  budget?: number;
  /** The key's value before the history: absent (`'empty'`, the default) or any one value (`'unknown'`). */
  initial?: 'empty' | 'unknown';
}

interface Node {
  op: number;
  time: number;
  isCall: boolean;
  match: Node | null; // a call's return entry
  prev: Node | null;
  next: Node | null;
}

/** Is this one key's history linearizable (from an absent key, or any one value with `initial: 'unknown'`)? */
export function checkOps(ops: readonly LinOp[], opts: CheckOptions = {}): Verdict {
  const n = ops.length;
  if (n === 0) return true;
  const budget = opts.budget ?? 5_000_000;
  const calls: Node[] = [];
  const all: Node[] = [];
  ops.forEach((op, i) => {
    const ret: Node = { op: i, time: op.ret, isCall: false, match: null, prev: null, next: null };
    const call: Node = { op: i, time: op.call, isCall: true, match: ret, prev: null, next: null };
    calls.push(call);
    all.push(call, ret);
  });
  // By time; at equal times calls first, so touching intervals count as concurrent.
  all.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Node = { op: -1, time: -Infinity, isCall: false, match: null, prev: null, next: null };
  let prev = head;
  for (const e of all) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const words = new Uint32Array(Math.ceil(n / 32));
  const bitsKey = () => words.join(',');
  const seen = new Map<string, Set<string>>();
  const stateKey = (s: KvState) => (s === null ? '\u0000' : s === UNKNOWN ? '\u0001' : `=${s}`);
  const stack: { entry: Node; state: KvState }[] = [];
  let state: KvState = opts.initial === 'unknown' ? UNKNOWN : null;
  let entry = head.next;
  let steps = 0;

  while (head.next !== null) {
    if (++steps > budget) return 'unknown';
    if (entry === null) return false; // unreachable: a list that is not empty ends with a return
    if (entry.isCall) {
      const next = stepKv(state, ops[entry.op]);
      if (next !== undefined) {
        words[entry.op >> 5] |= 1 << (entry.op & 31);
        const key = bitsKey();
        let states = seen.get(key);
        if (!states) seen.set(key, (states = new Set()));
        if (!states.has(stateKey(next))) {
          states.add(stateKey(next));
          stack.push({ entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        words[entry.op >> 5] &= ~(1 << (entry.op & 31));
      }
      entry = entry.next;
    } else {
      // A return whose call could not be placed: undo the last choice.
      const top = stack.pop();
      if (!top) return false;
      entry = top.entry;
      state = top.state;
      words[entry.op >> 5] &= ~(1 << (entry.op & 31));
      unlift(entry);
      entry = entry.next;
    }
  }
  return true;
}

function lift(e: Node): void {
  e.prev!.next = e.next;
  e.next!.prev = e.prev;
  const m = e.match!;
  m.prev!.next = m.next;
  if (m.next) m.next.prev = m.prev;
}

function unlift(e: Node): void {
  const m = e.match!;
  m.prev!.next = m;
  if (m.next) m.next.prev = m;
  e.prev!.next = e;
  e.next!.prev = e;
}

// ------------------------------------------------------------------ history -> per-key ops

interface Partition {
  byKey: Map<string, LinOp[]>;
  /** Keys touched by expire: not checked. */
  skippedKeys: string[];
  droppedFailed: number;
  droppedReads: number;
  pendingWrites: number;
  /** Entries whose shape does not fit their op (e.g. an mget without values). */
  malformed: HistoryEntry[];
}

/**
 * Splits a history into per-key operations, an operation's attempts (its entries with one
 * clientId and opId, e.g. a `raftkv retry`) merged into one first (attempts.ts);
 * `skipKeys` are left out too (noted like expire's).
 */
export function partitionHistory(history: readonly HistoryEntry[], skipKeys: Iterable<string> = []): Partition {
  const skipped = new Set<string>(skipKeys);
  for (const h of history) if (h.op.type === 'expire') skipped.add(h.op.key);
  const byKey = new Map<string, LinOp[]>();
  const out: Partition = { byKey, skippedKeys: [...skipped].sort(), droppedFailed: 0, droppedReads: 0, pendingWrites: 0, malformed: [] };
  const add = (op: LinOp) => {
    if (skipped.has(op.key)) return;
    const list = byKey.get(op.key);
    if (list) list.push(op);
    else byKey.set(op.key, [op]);
  };
  for (const h of mergeAttempts(history)) {
    if (h.failed) {
      out.droppedFailed++;
      continue;
    }
    const pending = h.error !== undefined;
    const op = h.op;
    if (op.type === 'get' || op.type === 'mget') {
      if (pending) {
        out.droppedReads++;
        continue;
      }
      if (op.type === 'get') add({ key: op.key, kind: 'read', output: h.output!.value, call: h.call, ret: h.return, entry: h });
      else {
        const values = h.output!.values;
        if (!values || values.length !== op.keys.length) {
          out.malformed.push(h);
          continue;
        }
        op.keys.forEach((key, i) => add({ key, kind: 'read', output: values[i], call: h.call, ret: h.return, entry: h }));
      }
      continue;
    }
    if (pending) out.pendingWrites++;
    const ret = pending ? Infinity : h.return;
    const output = pending ? undefined : h.output!.value;
    switch (op.type) {
      case 'put':
        add({ key: op.key, kind: 'write', value: op.value, output, call: h.call, ret, entry: h });
        break;
      case 'delete':
        add({ key: op.key, kind: 'delete', output, call: h.call, ret, entry: h });
        break;
      case 'incr':
        add({ key: op.key, kind: 'incr', output, call: h.call, ret, entry: h });
        break;
      case 'mput': {
        const last = new Map(op.pairs.map((p) => [p.key, p.value]));
        for (const [key, value] of last) add({ key, kind: 'write', value, call: h.call, ret, entry: h });
        break;
      }
      case 'expire':
        break;
    }
  }
  return out;
}

// ------------------------------------------------------------------ counterexamples

interface Counterexample {
  /** The operation whose output cannot be explained, at the shortest failing prefix. */
  culprit: LinOp;
  /** A small set of operations (the culprit among them) that cannot be linearized. */
  ops: LinOp[];
  /** False when the search budget ran out before the set was minimal. */
  minimal: boolean;
}

/**
 * For a key history that is not linearizable: cut it at the earliest return after which
 * it no longer is (operations still running then count as pending, their outputs unknown),
 * then drop operations one at a time while it stays non-linearizable, never dropping the
 * only writer of a value some kept operation observed (that would blame a write that is
 * there for a value that is "never written").
 */
export function explain(ops: readonly LinOp[], opts: CheckOptions & { maxChecks?: number } = {}): Counterexample | null {
  const completed = ops.filter((o) => Number.isFinite(o.ret)).sort((a, b) => a.ret - b.ret);
  const prefixAt = (t: number): LinOp[] => {
    const out: LinOp[] = [];
    for (const o of ops) {
      if (o.call > t) continue;
      if (o.ret <= t) out.push(o);
      else if (o.kind !== 'read') out.push({ ...o, output: undefined, ret: Infinity });
    }
    return out;
  };
  const fails = (list: LinOp[]) => checkOps(list, opts) === false;
  if (!fails([...ops])) return null;
  // Smallest failing prefix: a later cut only adds operations and outputs.
  let lo = 0;
  let hi = completed.length - 1;
  if (hi < 0 || !fails(prefixAt(completed[hi].ret))) {
    // Only pending operations beyond the last return can be the cause: keep the whole history.
    return { culprit: completed[completed.length - 1] ?? ops[0], ops: [...ops], minimal: false };
  }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fails(prefixAt(completed[mid].ret))) hi = mid;
    else lo = mid + 1;
  }
  const culprit = completed[lo];
  let set = prefixAt(culprit.ret);
  const original = [...set];
  const culpritInSet = set.find((o) => o.entry === culprit.entry && o.kind === culprit.kind && o.call === culprit.call && o.ret === culprit.ret) ?? culprit;
  let checks = 0;
  const maxChecks = opts.maxChecks ?? 2000;
  let minimal = true;
  for (const o of [...set].sort((a, b) => a.call - b.call)) {
    if (o === culpritInSet) continue;
    if (++checks > maxChecks) {
      minimal = false;
      break;
    }
    const without = set.filter((x) => x !== o);
    if (!keepsWriters(without, original)) continue;
    if (fails(without)) set = without;
  }
  return { culprit: culpritInSet, ops: set.sort((a, b) => a.call - b.call), minimal };
}

/** Every observed value that had a writer in `original` still has one in `set`. */
function keepsWriters(set: LinOp[], original: LinOp[]): boolean {
  for (const o of set) {
    const need = requirement(o);
    if (!need) continue;
    const has = (list: LinOp[]) => list.some((p) => p !== o && produces(p, need));
    if (has(original) && !has(set)) return false;
  }
  return true;
}

type Need = { value: string } | { integer: number };

function requirement(o: LinOp): Need | null {
  if (o.output === undefined) return null;
  if (o.kind === 'read' || o.kind === 'delete') return o.output === '' ? null : { value: o.output };
  if (o.kind === 'incr') {
    const n = Number(o.output);
    return Number.isSafeInteger(n) && n !== 1 ? { integer: n - 1 } : null;
  }
  return null;
}

function produces(p: LinOp, need: Need): boolean {
  if (p.kind === 'write') return 'value' in need ? p.value === need.value : INTEGER.test(p.value ?? '') && Number(p.value) === need.integer;
  if (p.kind === 'incr') {
    if (p.output === undefined) return !('value' in need) || INTEGER.test(need.value);
    return 'value' in need ? p.output === need.value : Number(p.output) === need.integer;
  }
  return false;
}

// ------------------------------------------------------------------ whole history

interface KeyVerdict {
  key: string;
  verdict: Verdict;
  ops: number;
  /** The value the key was checked from: absent, or any one value. */
  initial: 'empty' | 'unknown';
  counterexample?: Counterexample;
}

interface HistoryVerdict {
  keys: KeyVerdict[];
  partition: Partition;
}

/** What checkHistory needs beyond CheckOptions: what is known of the keys before the history. */
export interface HistoryOptions extends CheckOptions {
  /** Keys whose value before the history is unknown (`'all'`: every key); the others start as `initial` says (absent by default). */
  unknownInitial?: 'all' | ReadonlySet<string>;
  /** Keys not to check, besides those the history touches with expire (e.g. one an earlier run set to expire). */
  skipKeys?: Iterable<string>;
  /** Entries to check with the history that history.json lacks (writes in flight or cut short: rule-linearizability.ts). */
  extra?: readonly HistoryEntry[];
}

export function checkHistory(history: readonly HistoryEntry[], opts: HistoryOptions = {}): HistoryVerdict {
  const partition = partitionHistory([...history, ...(opts.extra ?? [])], opts.skipKeys);
  const keys: KeyVerdict[] = [];
  const unknown = opts.unknownInitial;
  for (const [key, ops] of [...partition.byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const initial = unknown === 'all' || unknown?.has(key) ? 'unknown' : (opts.initial ?? 'empty');
    const keyOpts: CheckOptions = { budget: opts.budget, initial };
    const verdict = checkOps(ops, keyOpts);
    const kv: KeyVerdict = { key, verdict, ops: ops.length, initial };
    if (verdict === false) kv.counterexample = explain(ops, keyOpts) ?? undefined;
    keys.push(kv);
  }
  return { keys, partition };
}

/** One operation of a counterexample, e.g. `ann:6 put(k1, "v2") [+12.3 ms, +20.1 ms] -> "v2"`. */
export function formatOp(o: LinOp, t0 = 0): string {
  const h = o.entry;
  const who = h ? `${h.clientId}:${h.opId}` : '?';
  const ms = (t: number) => (Number.isFinite(t) ? `+${(t - t0).toFixed(3)} ms` : 'never');
  const input = h ? describeInput(h) : `${o.kind}(${o.key}${o.value !== undefined ? `, ${JSON.stringify(o.value)}` : ''})`;
  let output: string;
  if (h?.error !== undefined) output = `error ${JSON.stringify(h.error)}: may or may not have taken effect`;
  else if (o.output === undefined) output = o.kind === 'write' ? `writes ${o.key}=${JSON.stringify(o.value)}` : 'output unknown at this point';
  else if (h?.op.type === 'mget') output = `${o.key}=${JSON.stringify(o.output)}`;
  else output = JSON.stringify(o.output);
  const ret = h && Number.isFinite(o.ret) ? o.ret : h && h.error === undefined ? h.return : o.ret;
  return `${who} ${input} [call ${ms(o.call)}, return ${ms(ret)}] -> ${output}`;
}

/** An operation as a call, e.g. `put(k1, "v")`, `mget(a, b)`, `expire(k, 30s)`. */
export function describeInput(h: HistoryEntry): string {
  const op = h.op;
  switch (op.type) {
    case 'get':
    case 'delete':
    case 'incr':
      return `${op.type}(${op.key})`;
    case 'put':
      return `put(${op.key}, ${JSON.stringify(op.value)})`;
    case 'expire':
      return `expire(${op.key}, ${op.ttlSeconds}s)`;
    case 'mget':
      return `mget(${op.keys.join(', ')})`;
    case 'mput':
      return `mput(${op.pairs.map((p) => `${p.key}=${JSON.stringify(p.value)}`).join(', ')})`;
  }
}
