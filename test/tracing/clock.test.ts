import { describe, expect, it } from 'vitest';
import { compare, happensBefore, leq, parseClock, serializeClock } from '../../tracing/clock.ts';
import { MemorySink } from '../../tracing/record.ts';
import { Tracer } from '../../tracing/tracer.ts';

describe('vector clock', () => {
  it("a tracer's receive takes the maximum per host and ticks its own, leaving the token and earlier records alone", () => {
    const sink = new MemorySink();
    const t = new Tracer('y', sink, { x: 3, y: 1 });
    const token = { x: 1, z: 2 };
    t.receive(token, 'Recv', {});
    const [first] = sink.records;
    expect(first.clock).toEqual({ x: 3, y: 2, z: 2 });
    expect(token).toEqual({ x: 1, z: 2 });
    const sent = t.send('Send', {});
    t.receive({ x: 9 }, 'Recv', {});
    expect(first.clock).toEqual({ x: 3, y: 2, z: 2 });
    expect(sent).toEqual({ x: 3, y: 3, z: 2 });
    expect(t.currentClock()).toEqual({ x: 9, y: 4, z: 2 });
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
