import { describe, expect, it } from 'vitest';
import { compare, happensBefore, leq, merge, parseClock, serializeClock } from '../../tracing/clock.ts';

describe('vector clock', () => {
  it('merge takes the maximum per host without changing either side', () => {
    const a = { x: 3, y: 1 };
    const b = { y: 5, z: 2 };
    expect(merge(a, b)).toEqual({ x: 3, y: 5, z: 2 });
    expect(a).toEqual({ x: 3, y: 1 });
    expect(b).toEqual({ y: 5, z: 2 });
  });

  it('leq treats a missing host as 0', () => {
    expect(leq({ a: 1 }, { a: 1, b: 2 })).toBe(true);
    expect(leq({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(leq({}, { a: 1 })).toBe(true);
  });

  it('compare tells before, after, equal and concurrent apart', () => {
    expect(compare({ a: 1 }, { a: 2, b: 1 })).toBe('before');
    expect(compare({ a: 2, b: 1 }, { a: 1 })).toBe('after');
    expect(compare({ a: 2, b: 1 }, { b: 1, a: 2 })).toBe('equal');
    expect(compare({ a: 2 }, { b: 1 })).toBe('concurrent');
    expect(happensBefore({ a: 1 }, { a: 2 })).toBe(true);
    expect(happensBefore({ a: 2 }, { a: 2 })).toBe(false);
  });

  it('serializes with sorted hosts and no zero entries, and parses back', () => {
    expect(serializeClock({ b: 2, a: 1, c: 0 })).toBe('{"a":1,"b":2}');
    expect(serializeClock({ a: 1, b: 2 })).toBe(serializeClock({ b: 2, a: 1 }));
    expect(parseClock('{"b":2,"a":1}')).toEqual({ a: 1, b: 2 });
  });

  it('parseClock rejects what is not a clock', () => {
    expect(() => parseClock('[1]')).toThrow(/not a JSON object/);
    expect(() => parseClock('null')).toThrow(/not a JSON object/);
    expect(() => parseClock('{"a":1.5}')).toThrow(/non-negative integer/);
    expect(() => parseClock('{"a":-1}')).toThrow(/non-negative integer/);
    expect(() => parseClock('{"a":"1"}')).toThrow(/non-negative integer/);
    expect(() => parseClock('{"a":')).toThrow();
  });
});
