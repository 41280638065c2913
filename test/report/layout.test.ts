import { describe, expect, it } from 'vitest';
import { layOut } from '../../tracing/report/layout.ts';
import type { JsonlRecord } from '../../tracing/shiviz.ts';
import { leftOfCause } from './left-of-cause.ts';
import { randomExecution, rng } from '../tracing/slice-execution.ts';

/**
 * The report's layout property: an event is drawn strictly right of every event that
 * happens before it (by vector clock: e happens before r when r's entry for e's host is at
 * least e's own counter), whatever the trace: random executions of real Tracers over a few
 * or many hosts (a run of many one-command CLI processes), with records missing from the
 * trace (a killed process's lost tail, a send whose record never arrived), and with the
 * trace's lines in an arrival order that lags by batches. The real run's check is in
 * report.test.ts (its model's levels against its clocks).
 */

/** A random execution as trace.jsonl records: some dropped, lines in a batched arrival order. */
function randomTrace(seed: number, hosts: number, steps: number, dropRate: number): JsonlRecord[] {
  const r = rng(seed * 7919 + 1);
  const { records } = randomExecution(seed, hosts, steps);
  const kept = records.filter(() => r() >= dropRate);
  // Each host sends in batches: its records arrive a random number of steps late, in order.
  const delay = new Map<string, number>();
  const arrivals = kept.map((rec, i) => {
    const d = Math.max(delay.get(rec.host) ?? 0, i + Math.floor(r() * 4 * hosts));
    delay.set(rec.host, d);
    return { rec, at: d + i / 1e6 };
  });
  arrivals.sort((a, b) => a.at - b.at);
  return arrivals.map(({ rec }, i) => ({ host: rec.host, traceId: rec.traceId, tag: rec.tag, body: rec.body, clock: { ...rec.clock }, line: i + 1 }));
}

describe('the report layout', () => {
  it('never draws an event left of (or at) an event that happens before it, on random traces', () => {
    let seeds = 0;
    for (const [hosts, steps, drop] of [
      [3, 300, 0],
      [5, 400, 0.1],
      [40, 600, 0],
      [120, 800, 0.15],
      [200, 700, 0.3],
    ] as const) {
      for (let seed = 1; seed <= 6; seed++) {
        const records = randomTrace(seed, hosts, steps, drop);
        const layout = layOut(records);
        const level = new Map(layout.events.map((e) => [e.record, e.level]));
        const bad = leftOfCause(records, (r) => level.get(r)!);
        expect(bad.slice(0, 5), `seed ${seed}, ${hosts} hosts, ${steps} steps, drop ${drop}: ${bad.length} events not right of a cause`).toEqual([]);
        // Every edge goes left to right too (an edge is a happens-before pair).
        const byId = new Map(layout.events.map((e) => [e.id, e.level]));
        for (const e of layout.edges) expect(byId.get(e.from)!).toBeLessThan(byId.get(e.to)!);
        seeds++;
      }
    }
    expect(seeds).toBe(30);
  });
});
