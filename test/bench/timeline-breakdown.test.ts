import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { breakdown, LEGS, readTimeline, type Mark } from '../../bench/timeline-breakdown.ts';
import type { TimelineStep } from '../../tracing/timeline.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * One put of entry `index` starting at `t0` ms, each leg taking the given ms, marked by
 * client C, leader L and follower F1 as the real processes mark it.
 */
function put(t0: number, index: number, legs: number[]): Mark[] {
  const steps: [string, TimelineStep][] = [
    ['C', 'client.send'], ['L', 'leader.request'], ['L', 'leader.propose'], ['L', 'leader.ready'], ['F1', 'follower.append'], ['F1', 'follower.ready'],
    ['F1', 'follower.saved'], ['F1', 'follower.ack'], ['L', 'leader.ackRecv'], ['L', 'leader.ready.commit'], ['L', 'leader.applied'], ['C', 'client.reply'],
  ];
  let t = t0;
  const marks = steps.map(([pid, step], k) => {
    if (k > 0) t += legs[k - 1];
    const indexed = !step.startsWith('client') && step !== 'leader.request' && step !== 'leader.applied';
    return { t, pid, step, index: indexed ? index : 0 };
  });
  // The leader's own save ends while the follower works.
  marks.push({ t: marks[3].t + 0.3, pid: 'L', step: 'leader.saved', index });
  return marks;
}

describe('latency breakdown (bench/timeline-breakdown.ts)', () => {
  it('lines each put up leg by leg, by entry index, past a slower second follower and a heartbeat acknowledgement', () => {
    const legsA = [0.1, 0.02, 0.002, 0.2, 0.015, 0.35, 0.002, 0.14, 0.006, 0.02, 0.12];
    const legsB = legsA.map((x) => x * 3);
    const a = put(1000, 5, legsA);
    const b = put(1010, 6, legsB);
    // Follower F2 gets entry 5 later and acknowledges later; an old acknowledgement (index 4) arrives first.
    const noise: Mark[] = [
      { t: 1000.5, pid: 'F2', step: 'follower.append', index: 5 },
      { t: 1000.6, pid: 'F2', step: 'follower.ready', index: 5 },
      { t: 1000.2, pid: 'L', step: 'leader.ackRecv', index: 4 },
    ];
    const marks = [...a, ...b, ...noise].sort((x, y) => x.t - y.t);
    const r = breakdown(marks, 999, 1020)!;
    expect(r.puts).toBe(2);
    expect(r.proposals).toBe(2);
    expect(r.rows.map((row) => row.leg).slice(0, LEGS.length)).toEqual([...LEGS]);
    LEGS.forEach((leg, j) => {
      const row = r.rows[j];
      // Two samples: the p50 is the larger (index 1), the mean their average.
      expect(row.p50Us).toBeCloseTo(legsB[j] * 1000, 3);
      expect(row.meanUs).toBeCloseTo(((legsA[j] + legsB[j]) / 2) * 1000, 3);
    });
    const total = r.rows.find((row) => row.leg.startsWith('total'))!;
    expect(total.meanUs).toBeCloseTo(((legsA.reduce((x, y) => x + y) + legsB.reduce((x, y) => x + y)) / 2) * 1000, 3);
    expect(r.rows.at(-1)!.p50Us).toBeCloseTo(300, 3);
    // Only what was proposed inside the window counts.
    expect(breakdown(marks, 1005, 1020)!.puts).toBe(1);
    expect(breakdown(marks, 2000, 3000)).toBeNull();
  });

  it('a process run with RAFTKV_TIMELINE writes its marks at exit; readTimeline reads them oldest first and skips a torn line', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-timeline-test-'));
    dirs.push(dir);
    const root = path.resolve(import.meta.dirname, '../..');
    const code = `import { mark } from ${JSON.stringify(path.join(root, 'tracing/timeline.ts'))}; mark('leader.propose', 7); mark('leader.ready', 7); mark('leader.saved', 7);`;
    execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, env: { ...process.env, RAFTKV_TIMELINE: dir } });
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    appendFileSync(path.join(dir, files[0]), '123456 leader.ackRe');
    const marks = readTimeline(dir);
    expect(marks.map((m) => [m.step, m.index])).toEqual([['leader.propose', 7], ['leader.ready', 7], ['leader.saved', 7]]);
    expect(marks[0].t).toBeLessThanOrEqual(marks[2].t);
  });
});
