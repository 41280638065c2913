import { describe, expect, it } from 'vitest';
import type { ChaosResult } from '../../src/chaos/run.ts';
import { formatSummary } from '../../src/chaos/summary.ts';
import { spread } from '../../src/chaos/recovery.ts';

const base: ChaosResult = {
  options: { servers: 3, durationMs: 15_000, seed: 7, kinds: ['kill'], clients: 2, keys: 1, trace: false, net: 'links', outDir: 'x' },
  net: { mode: 'links' },
  schedule: [],
  applied: [],
  counts: { ok: 3, failed: 0, unknown: 0 },
  recoveries: [],
  grade: { ok: false, checks: [], lost: [], violations: ['interrupted before the end: not graded'] },
  traceGaps: [],
  injectedBug: null,
  interrupted: true,
  seconds: 4,
};

describe('chaos summary', () => {
  it('marks an interrupted run INTERRUPTED, not FAIL, with no empty checks heading', () => {
    const text = formatSummary(base, 'x');
    expect(text).toMatch(/^INTERRUPTED seed 7: not graded/m);
    expect(text).not.toMatch(/FAIL/);
    expect(text).not.toMatch(/^checks:/m);
  });
});

describe('chaos recovery spread', () => {
  it('takes the usual median: the middle one, or the mean of the two middle ones', () => {
    expect(spread([3, 1, 2])).toEqual({ min: 1, median: 2, max: 3 });
    expect(spread([4, 1, 2, 3])).toEqual({ min: 1, median: 2.5, max: 4 });
    expect(spread([])).toBeNull();
  });
});
