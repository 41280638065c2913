import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runChaos } from '../../src/chaos/run.ts';

/**
 * Chaos runs end to end, on real server and client processes: a clean build passes every
 * check, and a build with a known bug (RAFTKV_INJECT_BUG=stale-read: followers answer
 * reads from their own state, no ReadIndex) is caught, with a non-zero exit and its seed.
 */
const BIN = fileURLToPath(new URL('../../bin/raftkv.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chaos-test-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('raftkv chaos', () => {
  // Traced, with the faults that lose no message: a cut link (--net links) drops messages,
  // and an empty heartbeat that brings a follower a commit index the leader had already
  // sent (in a message the cut dropped) is untraced (docs/TRACING.md), so the follower's
  // Apply has no Commit before it in the trace (commit-before-apply fails). `npm run
  // chaos` in CI runs every kind untraced.
  it('passes a short traced run with kills, pauses, clock skew and slow fsync on a sound build', async () => {
    const seed = 20261129;
    const lines: string[] = [];
    const r = await runChaos(
      { servers: 5, durationMs: 15_000, seed, kinds: ['kill', 'pause', 'clock', 'disk'], clients: 4, keys: 5, trace: true, net: 'links', outDir: path.join(tmp, 'clean') },
      (line) => lines.push(line),
      new AbortController().signal,
    );
    const failed = r.grade.checks.filter((c) => c.status === 'FAIL');
    expect(failed, `seed ${seed}:\n${failed.map((c) => `${c.rule}: ${c.offenders.join('\n')}`).join('\n')}\n${lines.join('\n')}`).toEqual([]);
    expect(r.grade.ok).toBe(true);
    expect(r.applied.length).toBeGreaterThan(0);
    expect(r.applied.every((a) => a.error === undefined), JSON.stringify(r.applied.map((a) => a.error))).toBe(true);
    expect(r.counts.ok).toBeGreaterThan(100);
    // Every trace rule ran, not only the history checks.
    const rules = r.grade.checks.map((c) => c.rule);
    for (const rule of ['linearizability', 'exactly-once', 'election-safety', 'state-machine-safety', 'no lost acknowledged write']) expect(rules).toContain(rule);
    // The run directory holds what the checker graded.
    const chaos = JSON.parse(readFileSync(path.join(tmp, 'clean', 'chaos.json'), 'utf8')) as { schedule: unknown[] };
    expect(chaos.schedule).toEqual(r.schedule);
  }, 150_000);

  it('reports a violation, exits 1 and prints the seed when followers serve stale reads', async () => {
    const seed = 3;
    const out = path.join(tmp, 'buggy');
    const child = spawn(process.execPath, [BIN, 'chaos', '--servers', '3', '--clients', '4', '--duration', '15s', '--seed', String(seed), '--faults', 'partition,pause', '--out', out], {
      env: { ...process.env, RAFTKV_INJECT_BUG: 'stale-read' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code, output).toBe(1);
    expect(output).toMatch(/FAIL +linearizability/);
    expect(output).toContain(`FAIL seed ${seed}:`);
    expect(output).toContain(`raftkv chaos --seed ${seed}`);
  }, 150_000);
});
