import { describe, expect, it } from 'vitest';
import { MAX_CACHED_RESULTS_PER_CLIENT, SessionTable } from '../../src/kv/sessions.ts';

const ok = (value: string) => ({ ok: true as const, value });

describe('SessionTable', () => {
  it('admits a new opId and answers a repeat from the cache', () => {
    const t = new SessionTable();
    expect(t.admit('c', 1, 0)).toBeNull();
    t.record('c', 1, ok('first'));
    expect(t.admit('c', 1, 0)).toEqual(ok('first'));
    expect(t.admit('other', 1, 0)).toBeNull();
  });

  it('admits opIds out of order', () => {
    const t = new SessionTable();
    expect(t.admit('c', 2, 0)).toBeNull();
    t.record('c', 2, ok('two'));
    expect(t.admit('c', 1, 0)).toBeNull();
    t.record('c', 1, ok('one'));
    expect(t.admit('c', 2, 0)).toEqual(ok('two'));
  });

  it('drops results below firstUnacked and refuses those opIds without applying', () => {
    const t = new SessionTable();
    for (const id of [1, 2, 3]) {
      t.admit('c', id, 1);
      t.record('c', id, ok(String(id)));
    }
    expect(t.admit('c', 4, 3)).toBeNull();
    expect(t.view()).toEqual([{ clientId: 'c', firstUnacked: 3, evictedBelow: 0, cachedOpIds: [3] }]);
    expect(t.admit('c', 2, 1)).toEqual({ ok: false, error: 'duplicate of an operation already answered' });
    expect(t.admit('c', 3, 1)).toEqual(ok('3'));
  });

  it('never lowers firstUnacked', () => {
    const t = new SessionTable();
    t.admit('c', 5, 5);
    t.admit('c', 6, 2);
    expect(t.view()[0].firstUnacked).toBe(5);
  });

  it('caps the cache per client and refuses evicted opIds rather than applying them twice', () => {
    const t = new SessionTable();
    for (let id = 0; id <= MAX_CACHED_RESULTS_PER_CLIENT; id++) {
      expect(t.admit('c', id, 0)).toBeNull();
      t.record('c', id, ok(String(id)));
    }
    const [view] = t.view();
    expect(view.cachedOpIds).toHaveLength(MAX_CACHED_RESULTS_PER_CLIENT);
    expect(view.cachedOpIds[0]).toBe(1);
    expect(t.admit('c', 0, 0)).toEqual({
      ok: false,
      error: `not applied: opId 0 is older than the ${MAX_CACHED_RESULTS_PER_CLIENT} results kept for this client`,
    });
    expect(t.admit('c', 1, 0)).toEqual(ok('1'));
  });
});
