import { describe, expect, it } from 'vitest';
import { lostWrites } from '../../src/chaos/lost-writes.ts';
import type { HistoryEntry } from '../../tracing/history.ts';

let opId = 0;
function put(key: string, value: string, call: number, ret: number, outcome: 'ok' | 'unknown' | 'failed' = 'ok'): HistoryEntry {
  return {
    clientId: 'c1',
    opId: ++opId,
    op: { type: 'put', key, value },
    call,
    return: ret,
    ...(outcome === 'ok' ? { output: { value } } : { error: 'timed out', ...(outcome === 'failed' ? { failed: true } : {}) }),
  };
}

describe('lost acknowledged writes', () => {
  it('names an acknowledged write that was the last one and is not in the final state', () => {
    const history = [put('k', 'a', 0, 10), put('k', 'b', 20, 30)];
    const lost = lostWrites(history, new Map([['k', 'a']]));
    expect(lost.map((l) => l.wrote)).toEqual(['b']);
    expect(lost[0].finalValue).toBe('a');
  });

  it('does not blame a write that a concurrent or later one may have overwritten', () => {
    // b and c overlap: either may be last, so a final "c" or "b" loses nothing.
    const history = [put('k', 'b', 0, 30), put('k', 'c', 10, 20)];
    expect(lostWrites(history, new Map([['k', 'c']]))).toEqual([]);
    expect(lostWrites(history, new Map([['k', 'b']]))).toEqual([]);
  });

  it('counts a write of unknown outcome as one that may land any time after its call', () => {
    // "x" timed out before "b" was called, yet may have been applied after it.
    const history = [put('k', 'x', 0, 5, 'unknown'), put('k', 'b', 20, 30)];
    expect(lostWrites(history, new Map([['k', 'x']]))).toEqual([]);
    // A write that failed for certain changed nothing: "b" was the last and is lost.
    const failed = [put('k', 'x', 0, 5, 'failed'), put('k', 'b', 20, 30)];
    expect(lostWrites(failed, new Map([['k', 'x']])).map((l) => l.wrote)).toEqual(['b']);
  });

  it('judges each key of an mput on its own, and ignores keys with no final value', () => {
    const mput: HistoryEntry = { clientId: 'c2', opId: 1, op: { type: 'mput', pairs: [{ key: 'k1', value: 'm' }, { key: 'k2', value: 'm' }] }, call: 40, return: 50, output: { value: '2' } };
    const history = [put('k1', 'a', 0, 10), mput];
    expect(lostWrites(history, new Map([['k1', 'm'], ['k2', '']])).map((l) => l.key)).toEqual(['k2']);
    expect(lostWrites(history, new Map([['k1', 'a']])).map((l) => `${l.key}=${l.wrote}`)).toEqual(['k1=m']);
  });
});
