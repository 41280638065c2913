import { describe, expect, it } from 'vitest';
import { compare, happensBefore } from '../../tracing/clock.ts';
import { checkShiVizLog } from '../../tracing/check/shiviz-rules.ts';
import { ClockError, recomputeClocks } from '../../tracing/slice/recompute-clocks.ts';
import { formatShiViz } from '../../tracing/shiviz.ts';
import type { TraceRecord } from '../../tracing/record.ts';
import { ExecutionBuilder, randomExecution, rng, transitiveClosure } from './slice-execution.ts';

/** The kept records with their new clocks, as a ShiViz log. */
function sliceLog(records: readonly TraceRecord[], keep: readonly number[]): { log: string; clocks: Record<string, number>[] } {
  const clocks = recomputeClocks(keep.map((i) => records[i]));
  return { log: formatShiViz(keep.map((i, k) => ({ ...records[i], clock: clocks[k] }))), clocks };
}

describe('recomputeClocks', () => {
  it('keeps a -> b when the only path runs through dropped events, and adds no edge between concurrent events', () => {
    const b = new ExecutionBuilder();
    const a = b.send('A'); // a: A's send
    const x = b.receive('B', a); // dropped
    const y = b.send('B'); // dropped
    const c = b.local('C'); // concurrent with a, x and y
    const bEvent = b.receive('C', y); // b: a -> x -> y -> b
    const d = b.local('A'); // after a on A, concurrent with b and c
    const { records, edges } = b.build();
    const reach = transitiveClosure(edges);
    expect(reach[a.from][bEvent]).toBe(true);
    expect(reach[a.from][c] || reach[c][a.from]).toBe(false);

    const keep = [a.from, c, bEvent, d];
    const { log, clocks } = sliceLog(records, keep);
    expect(checkShiVizLog(log)).toEqual([]);
    const at = (event: number) => clocks[keep.indexOf(event)];
    expect(happensBefore(at(a.from), at(bEvent))).toBe(true);
    expect(happensBefore(at(c), at(bEvent))).toBe(true);
    expect(compare(at(a.from), at(c))).toBe('concurrent');
    expect(compare(at(d), at(bEvent))).toBe('concurrent');
    expect(compare(at(d), at(c))).toBe('concurrent');
    // B has no kept event, so no clock may name it; each kept host counts from 1.
    for (const clock of clocks) expect(Object.keys(clock)).not.toContain('B');
    expect([at(a.from).A, at(d).A, at(c).C, at(bEvent).C]).toEqual([1, 2, 1, 2]);
    expect(reach[a.from][x] && reach[x][y.from] && reach[y.from][bEvent]).toBe(true);
  });

  it('a slice that keeps the original clocks fails the strict checks (the checker can tell)', () => {
    const b = new ExecutionBuilder();
    const m = b.send('A');
    b.receive('B', m);
    const last = b.local('B');
    const { records } = b.build();
    // Dropping B's receive leaves a gap in B's counters and names A's send through B.
    const naive = formatShiViz([records[m.from], records[last]]);
    expect(checkShiVizLog(naive).map((v) => v.rule)).toContain('first-counter-is-1');
    expect(checkShiVizLog(sliceLog(records, [m.from, last]).log)).toEqual([]);
  });

  it('on random executions and random subsets, happens-before among kept events is exactly the transitive closure of the full run', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const hosts = 2 + (seed % 5);
      const { records, edges } = randomExecution(seed, hosts, 30 + (seed % 90));
      const reach = transitiveClosure(edges);
      const r = rng(seed * 7919);
      const p = 0.1 + r() * 0.8;
      const keep = records.map((_, i) => i).filter(() => r() < p);
      if (keep.length === 0) continue;
      // The input order must not matter: shuffle what recomputeClocks sees.
      for (let i = keep.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [keep[i], keep[j]] = [keep[j], keep[i]];
      }
      const { log, clocks } = sliceLog(records, keep);
      expect(checkShiVizLog(log), `seed ${seed}`).toEqual([]);
      const wrong: string[] = [];
      for (let i = 0; i < keep.length; i++) {
        for (let j = 0; j < keep.length; j++) {
          if (i !== j && happensBefore(clocks[i], clocks[j]) !== reach[keep[i]][keep[j]]) wrong.push(`${keep[i]} -> ${keep[j]} should be ${reach[keep[i]][keep[j]]}`);
        }
      }
      expect(wrong, `seed ${seed}`).toEqual([]);
    }
  });

  it('refuses input that is not a valid run: a repeated counter, a missing own counter', () => {
    expect(() => recomputeClocks([{ host: 'A', clock: { A: 1 } }, { host: 'A', clock: { A: 1 } }])).toThrow(ClockError);
    expect(() => recomputeClocks([{ host: 'A', clock: { B: 1 } }])).toThrow(/no counter of its own/);
  });
});
