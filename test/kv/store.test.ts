import { describe, expect, it } from 'vitest';
import { Store } from '../../src/kv/store.ts';

describe('Store', () => {
  it('hides a key from the moment now reaches its deadline', () => {
    const s = new Store();
    s.put('a', '1');
    s.expire('a', 100, 0);
    expect(s.get('a', 99)).toBe('1');
    expect(s.get('a', 100)).toBeUndefined();
  });

  it('does not remove an expired key on a read, only on a write', () => {
    const s = new Store();
    s.put('a', '1');
    s.expire('a', 100, 0);
    s.get('a', 500);
    expect(s.entries()).toEqual([{ key: 'a', value: '1', deadlineMs: 100 }]);
    expect(s.delete('a', 500)).toBeUndefined();
    expect(s.entries()).toEqual([]);
  });

  it('put forgets the ttl; update keeps it', () => {
    const s = new Store();
    s.put('a', '1');
    s.expire('a', 100, 0);
    s.update('a', '2', 50);
    expect(s.entries()).toEqual([{ key: 'a', value: '2', deadlineMs: 100 }]);
    s.put('a', '3');
    expect(s.entries()).toEqual([{ key: 'a', value: '3' }]);
    expect(s.get('a', 1_000)).toBe('3');
  });

  it('update of an expired key starts a fresh key without a ttl', () => {
    const s = new Store();
    s.put('a', '1');
    s.expire('a', 100, 0);
    s.update('a', '9', 100);
    expect(s.entries()).toEqual([{ key: 'a', value: '9' }]);
  });

  it('expire reports whether there was a live key', () => {
    const s = new Store();
    expect(s.expire('missing', 100, 0)).toBe(false);
    s.put('a', '1');
    expect(s.expire('a', 100, 0)).toBe(true);
    expect(s.expire('a', 200, 100)).toBe(false);
    expect(s.entries()).toEqual([]);
  });
});

describe('Store.dataBytes', () => {
  it('counts the characters of every key and value held, through puts, updates, deletes, expiry and load', () => {
    const s = new Store();
    s.put('ab', 'xyz');
    expect(s.dataBytes).toBe(5);
    s.put('ab', 'x');
    expect(s.dataBytes).toBe(3);
    s.update('ab', 'wxyz', 0);
    expect(s.dataBytes).toBe(6);
    s.update('new', 'v', 0);
    expect(s.dataBytes).toBe(10);
    expect(s.delete('ab', 0)).toBe('wxyz');
    expect(s.dataBytes).toBe(4);
    s.expire('new', 100, 0);
    // Expired keys count until a write at or after the deadline removes them.
    expect(s.dataBytes).toBe(4);
    expect(s.delete('new', 100)).toBeUndefined();
    expect(s.dataBytes).toBe(0);
    s.put('k', 'vv');
    const copy = new Store();
    copy.load(s.dump());
    expect(copy.dataBytes).toBe(3);
  });
});

describe('Store.sweep', () => {
  it('removes exactly the keys whose deadline has come, soonest first, skipping rewritten and re-leased ones', () => {
    const s = new Store();
    for (let i = 0; i < 50; i++) {
      s.put(`k${i}`, 'v');
      s.expire(`k${i}`, 1_000 + ((i * 37) % 50) * 10, 0);
    }
    s.put('k0', 'rewritten'); // a new value is a new lease: no deadline any more
    s.expire('k1', 10_000, 0); // a later deadline replaces the earlier one
    s.put('plain', 'v');
    s.sweep(1_250);
    const left = s.dump().map(([key]) => key);
    const due = Array.from({ length: 50 }, (_, i) => i).filter((i) => i > 1 && 1_000 + ((i * 37) % 50) * 10 <= 1_250);
    for (const i of due) expect(left, `k${i}`).not.toContain(`k${i}`);
    expect(left).toHaveLength(50 - due.length + 1);
    expect(left).toEqual(expect.arrayContaining(['k0', 'k1', 'plain']));
    s.sweep(Number.MAX_SAFE_INTEGER);
    expect(s.dump().map(([key]) => key).sort()).toEqual(['k0', 'plain']);
    expect(s.dataBytes).toBe('k0rewrittenplainv'.length);
  });

  it('counts UTF-8 bytes, as a client sends them', () => {
    const s = new Store();
    s.put('é', '日本');
    expect(s.dataBytes).toBe(2 + 6);
  });
});
