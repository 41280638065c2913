import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../tracing/history.ts';
import type { ClientOp } from '../../src/kv/command.ts';
import { checkHistory, checkOps, explain, formatOp, partitionHistory, type LinOp } from '../../tracing/check/linearizability.ts';

let nextOpId = 1;
/** One history entry: `client` calls `op` at `call` and gets `out` (a value, or {error}) at `ret`. */
function h(client: string, op: ClientOp, call: number, ret: number, out: string | { error: string; failed?: boolean } | { values: string[] }): HistoryEntry {
  const base = { clientId: client, opId: nextOpId++, op, call, return: ret };
  if (typeof out === 'string') return { ...base, output: { value: out } };
  if ('values' in out) return { ...base, output: { value: '', values: out.values } };
  return { ...base, error: out.error, ...(out.failed ? { failed: true } : {}) };
}
const put = (key: string, value: string): ClientOp => ({ type: 'put', key, value });
const get = (key: string): ClientOp => ({ type: 'get', key });

const verdicts = (history: HistoryEntry[]) => Object.fromEntries(checkHistory(history).keys.map((k) => [k.key, k.verdict]));

describe('linearizability (Wing & Gong with memoization, per key)', () => {
  it('sequential put then get passes; a get on a never-written key returns ""', () => {
    expect(verdicts([h('a', put('k', 'v1'), 0, 10, 'v1'), h('a', get('k'), 20, 30, 'v1'), h('b', get('z'), 0, 5, '')])).toEqual({ k: true, z: true });
    expect(verdicts([h('b', get('z'), 0, 5, 'x')])).toEqual({ z: false });
  });

  it('a stale read fails, with the two puts and the read as counterexample', () => {
    const history = [
      h('a', put('k', 'v1'), 0, 10, 'v1'),
      h('b', get('k'), 12, 14, 'v1'),
      h('a', put('k', 'v2'), 20, 30, 'v2'),
      h('c', get('other'), 31, 32, ''),
      h('b', get('k'), 40, 50, 'v1'), // v2 was written before this began
      h('b', get('k'), 60, 70, 'v2'),
    ];
    const [k, other] = checkHistory(history).keys;
    expect(other).toMatchObject({ key: 'other', verdict: true });
    expect(k.verdict).toBe(false);
    const cx = k.counterexample!;
    expect(cx.culprit.entry).toBe(history[4]);
    expect(cx.ops.map((o) => o.entry)).toEqual([history[0], history[2], history[4]]);
    expect(cx.minimal).toBe(true);
    expect(formatOp(cx.culprit)).toBe(`b:${history[4].opId} get(k) [call +40.000 ms, return +50.000 ms] -> "v1"`);
  });

  it('concurrent operations pass when some order explains them, fail when none does', () => {
    // Two overlapping puts; readers during and after see them in a consistent order.
    const ok = [
      h('a', put('k', 'x'), 0, 100, 'x'),
      h('b', put('k', 'y'), 10, 90, 'y'),
      h('c', get('k'), 20, 30, 'y'),
      h('c', get('k'), 40, 50, 'x'),
      h('c', get('k'), 110, 120, 'x'),
    ];
    expect(verdicts(ok)).toEqual({ k: true });
    // Once one reader saw x after y, no later read (after both puts returned) may see y.
    const bad = [...ok.slice(0, 4), h('c', get('k'), 110, 120, 'y')];
    expect(verdicts(bad)).toEqual({ k: false });
    // Two readers that overlap each other may see the writes in either order... but not a flip-flop.
    const flip = [h('a', put('k', 'x'), 0, 10, 'x'), h('b', put('k', 'y'), 0, 10, 'y'), h('c', get('k'), 20, 30, 'x'), h('d', get('k'), 31, 40, 'y')];
    expect(verdicts(flip)).toEqual({ k: false });
  });

  it('a write that failed with an unknown outcome may or may not have happened: both histories pass', () => {
    const pending = h('a', put('k', 'v2'), 20, 25, { error: 'gave up after 20000 ms' });
    const seen = [h('a', put('k', 'v1'), 0, 10, 'v1'), pending, h('b', get('k'), 1000, 1010, 'v2')];
    const notSeen = [h('a', put('k', 'v1'), 0, 10, 'v1'), pending, h('b', get('k'), 1000, 1010, 'v1'), h('b', get('k'), 2000, 2010, 'v2')];
    expect(verdicts(seen)).toEqual({ k: true });
    expect(verdicts(notSeen)).toEqual({ k: true });
    // ... but not before it was called.
    expect(verdicts([h('b', get('k'), 0, 5, 'v2'), { ...pending }])).toEqual({ k: false });
    // A read with an error tells nothing and is dropped.
    const p = partitionHistory([h('b', get('k'), 0, 5, { error: 'timeout' }), pending]);
    expect(p).toMatchObject({ droppedReads: 1, pendingWrites: 1 });
    expect(p.byKey.get('k')![0].ret).toBe(Infinity);
  });

  it('entries with one clientId and opId are attempts of one operation (raftkv retry): its call the first, its result the answered one', () => {
    const incr: ClientOp = { type: 'incr', key: 'visits' };
    const attempt = (call: number, ret: number, out: string | { error: string }) => ({ ...h('c', incr, call, ret, out), opId: 1000 });
    // The first attempt timed out, was applied (2), a read saw it, the retry was answered from the session table.
    const history = [h('a', incr, 0, 10, '1'), attempt(20, 30, { error: 'timed out' }), h('b', get('visits'), 40, 50, '2'), attempt(60, 70, '2')];
    expect(verdicts(history)).toEqual({ visits: true });
    expect(partitionHistory(history).byKey.get('visits')!.filter((o) => o.entry?.clientId === 'c')).toMatchObject([{ call: 20, ret: 70, output: '2' }]);
    // As two operations (two opIds) the same entries are two increments: not linearizable.
    expect(verdicts([history[0], history[1], history[2], { ...history[3], opId: 1001 }])).toEqual({ visits: false });
    // One application only: a read of 3 has no explanation.
    expect(verdicts([...history, h('b', get('visits'), 80, 90, '3')])).toEqual({ visits: false });
    // No attempt answered: the operation may have taken effect any time after its first call.
    expect(verdicts([h('a', incr, 0, 10, '1'), attempt(20, 30, { error: 'timed out' }), h('b', get('visits'), 40, 50, '2'), attempt(60, 70, { error: 'timed out' })])).toEqual({ visits: true });
  });

  it('failed ops (incr on text) change nothing and are dropped', () => {
    const history = [
      h('a', put('k', 'text'), 0, 10, 'text'),
      h('a', { type: 'incr', key: 'k' }, 20, 30, { error: 'incr: not a base-10 integer', failed: true }),
      h('b', get('k'), 40, 50, 'text'),
    ];
    expect(verdicts(history)).toEqual({ k: true });
    expect(partitionHistory(history).droppedFailed).toBe(1);
  });

  it('incr returns the new value from a missing key as 0; delete returns the old value and removes the key', () => {
    const incr = { type: 'incr', key: 'n' } as const;
    const del = { type: 'delete', key: 'n' } as const;
    expect(verdicts([h('a', incr, 0, 1, '1'), h('b', incr, 2, 3, '2'), h('a', del, 4, 5, '2'), h('b', get('n'), 6, 7, ''), h('a', incr, 8, 9, '1')])).toEqual({ n: true });
    expect(verdicts([h('a', incr, 0, 1, '1'), h('b', incr, 2, 3, '1')])).toEqual({ n: false });
    expect(verdicts([h('a', put('n', '5'), 0, 1, '5'), h('a', del, 4, 5, '4')])).toEqual({ n: false });
    // Concurrent incrs: outputs 1 and 2 in either order.
    expect(verdicts([h('a', incr, 0, 10, '2'), h('b', incr, 0, 10, '1')])).toEqual({ n: true });
    // An incr on an explicitly empty value would fail, so a successful one cannot follow put("").
    expect(verdicts([h('a', put('n', ''), 0, 1, ''), h('a', incr, 2, 3, '1')])).toEqual({ n: false });
  });

  it('mget and mput split into per-key reads and writes; keys touched by expire are skipped', () => {
    const history = [
      h('a', { type: 'mput', pairs: [{ key: 'x', value: '1' }, { key: 'y', value: '2' }] }, 0, 10, '2'),
      h('b', { type: 'mget', keys: ['x', 'y', 'z'] }, 20, 30, { values: ['1', '2', ''] }),
      h('b', { type: 'mget', keys: ['x', 'y'] }, 40, 50, { values: ['1', 'stale'] }),
      h('c', { type: 'expire', key: 't', ttlSeconds: 1 }, 0, 5, '0'),
      h('c', get('t'), 6, 7, 'anything'),
    ];
    const result = checkHistory(history);
    expect(Object.fromEntries(result.keys.map((k) => [k.key, k.verdict]))).toEqual({ x: true, y: false, z: true });
    expect(result.partition.skippedKeys).toEqual(['t']);
    expect(formatOp(result.keys.find((k) => k.key === 'y')!.counterexample!.culprit, 0)).toContain('mget(x, y) [call +40.000 ms, return +50.000 ms] -> y="stale"');
  });

  it('decides a busy key quickly: 6 clients x 40 ops, linearizable by construction, then one read corrupted', () => {
    // A simulated register: each op takes effect at a random point inside its interval.
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const events: { at: number; op: LinOp }[] = [];
    for (let c = 0; c < 6; c++) {
      let t = rand() * 5;
      for (let i = 0; i < 40; i++) {
        const call = t;
        const ret = call + 1 + rand() * 10;
        const at = call + rand() * (ret - call);
        const op: LinOp = rand() < 0.5 ? { key: 'k', kind: 'write', value: `c${c}-${i}`, output: `c${c}-${i}`, call, ret } : { key: 'k', kind: 'read', call, ret };
        events.push({ at, op });
        t = ret + rand() * 3;
      }
    }
    let state = '';
    for (const { op } of events.sort((a, b) => a.at - b.at)) {
      if (op.kind === 'write') state = op.value!;
      else op.output = state;
    }
    const ops = events.map((e) => e.op);
    const t0 = Date.now();
    expect(checkOps(ops)).toBe(true);
    // A read that returns a value written only after it returned cannot be explained.
    const late = ops.find((o) => o.kind === 'write' && o.call > 200)!;
    const victim = ops.find((o) => o.kind === 'read' && o.ret < late.call - 50)!;
    victim.output = late.value;
    expect(checkOps(ops)).toBe(false);
    const cx = explain(ops)!;
    // Cut at the victim's return, the late write has not even been called: the read alone is the counterexample.
    expect(cx.culprit).toBe(victim);
    expect(cx.ops).toEqual([victim]);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('gives up with "unknown" when the search budget runs out (the rule then SKIPs with a note)', () => {
    // 30 writes all concurrent with 30 reads that fix their order: exponential for Wing & Gong.
    const ops: LinOp[] = [];
    for (let i = 0; i < 30; i++) ops.push({ key: 'k', kind: 'write', value: `v${i}`, output: `v${i}`, call: 0, ret: 1000 });
    for (let i = 0; i < 30; i++) ops.push({ key: 'k', kind: 'read', output: `v${i}`, call: 10 + i, ret: 10.5 + i });
    expect(checkOps(ops, { budget: 10_000 })).toBe('unknown');
    expect(checkOps(ops.slice(0, 3).concat(ops.slice(30, 33)))).toBe(true);
  });

  describe('from an unknown initial value (a run over existing data)', () => {
    const incr = { type: 'incr', key: 'n' } as const;
    const del = { type: 'delete', key: 'n' } as const;
    const unknown = (history: HistoryEntry[], keys: 'all' | Set<string> = 'all') =>
      Object.fromEntries(checkHistory(history, { unknownInitial: keys }).keys.map((k) => [k.key, k.verdict]));

    it('a first read may see any value no write of the run produced: one initial value per key', () => {
      const first = [h('b', get('z'), 0, 5, '1')];
      expect(verdicts(first)).toEqual({ z: false });
      expect(unknown(first)).toEqual({ z: true });
      // The same value twice, or the old value then what the run wrote, is fine.
      expect(unknown([h('b', get('z'), 0, 5, '1'), h('c', get('z'), 10, 15, '1'), h('a', put('z', '2'), 20, 25, '2'), h('b', get('z'), 30, 35, '2')])).toEqual({ z: true });
      // Only the keys named start unknown.
      expect(unknown([h('b', get('z'), 0, 5, '1'), h('b', get('y'), 0, 5, '1')], new Set(['z']))).toEqual({ y: false, z: true });
    });

    it('two reads of a never-written key that disagree, with no write between, still fail', () => {
      const history = [h('b', get('z'), 0, 5, '1'), h('c', get('z'), 10, 15, '2')];
      const [k] = checkHistory(history, { unknownInitial: 'all' }).keys;
      expect(k).toMatchObject({ key: 'z', verdict: false, initial: 'unknown' });
      expect(k.counterexample!.ops.map((o) => o.entry)).toEqual(history);
      // Overlapping reads cannot disagree either: one value, and nothing writes it.
      expect(unknown([h('b', get('z'), 0, 20, '1'), h('c', get('z'), 5, 15, '2')])).toEqual({ z: false });
      // Nor may the old value come back after the run overwrote it.
      expect(unknown([h('b', get('z'), 0, 5, '1'), h('a', put('z', '2'), 10, 15, '2'), h('b', get('z'), 20, 25, '1')])).toEqual({ z: false });
    });

    it('delete, incr and a read of "" reveal the initial value too, consistently', () => {
      // delete returns the old value; the next read sees the key gone.
      expect(unknown([h('a', del, 0, 5, 'old'), h('b', get('n'), 10, 15, '')])).toEqual({ n: true });
      expect(unknown([h('b', get('n'), 0, 5, 'x'), h('a', del, 10, 15, 'y')])).toEqual({ n: false });
      // incr counts up from the old integer...
      expect(unknown([h('a', incr, 0, 5, '8'), h('b', get('n'), 10, 15, '8')])).toEqual({ n: true });
      expect(unknown([h('b', get('n'), 0, 5, '7'), h('a', incr, 10, 15, '8')])).toEqual({ n: true });
      expect(unknown([h('b', get('n'), 0, 5, '7'), h('a', incr, 10, 15, '9')])).toEqual({ n: false });
      // ...or from absent: a read of "" then incr -> 1, but not 5.
      expect(unknown([h('b', get('n'), 0, 5, ''), h('a', incr, 10, 15, '1')])).toEqual({ n: true });
      expect(unknown([h('b', get('n'), 0, 5, ''), h('a', incr, 10, 15, '5')])).toEqual({ n: false });
      // An incr result that no integer counts up to.
      expect(unknown([h('a', incr, 0, 5, '007')])).toEqual({ n: false });
    });
  });
});
