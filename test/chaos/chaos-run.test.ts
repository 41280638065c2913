import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runChaos } from '../../src/chaos/run.ts';
import { FAULT_KINDS } from '../../src/chaos/schedule.ts';

/**
 * Chaos runs end to end, on real server and client processes: a clean build passes every
 * check, and a build with a known bug (RAFTKV_INJECT_BUG=stale-read: followers answer
 * reads from their own state, no ReadIndex) is caught, with a non-zero exit and its seed.
 */
const BIN = fileURLToPath(new URL('../../bin/raftkv.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chaos-test-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('raftkv chaos', () => {
  // Untraced, so that it grades the cluster and nothing else: the traced path (every rule
  // of the checker on the run directory) is exercised by the stale-read run below.
  it('passes a short run with every kind of fault on a sound build', async () => {
    const seed = 20261129;
    const lines: string[] = [];
    const r = await runChaos(
      { servers: 5, durationMs: 15_000, seed, kinds: FAULT_KINDS, clients: 4, keys: 5, trace: false, net: 'links', outDir: path.join(tmp, 'clean') },
      (line) => lines.push(line),
      new AbortController().signal,
    );
    const failed = r.grade.checks.filter((c) => c.status === 'FAIL');
    expect(failed, `seed ${seed}:\n${failed.map((c) => `${c.rule}: ${c.offenders.join('\n')}`).join('\n')}\n${lines.join('\n')}`).toEqual([]);
    expect(r.grade.ok).toBe(true);
    expect(r.injectedBug).toBeNull();
    expect(r.applied.length).toBeGreaterThan(0);
    expect(r.applied.every((a) => a.error === undefined), JSON.stringify(r.applied.map((a) => a.error))).toBe(true);
    expect(r.counts.ok).toBeGreaterThan(100);
    expect(r.grade.checks.map((c) => c.rule)).toEqual(['linearizability', 'no lost acknowledged write', 'final reads', 'no server crashed by itself', 'every step of the run completed', 'not stuck']);
    // The run directory holds what the checker graded.
    const chaos = JSON.parse(readFileSync(path.join(tmp, 'clean', 'chaos.json'), 'utf8')) as { schedule: unknown[]; applied: { planned: { atMs: number }; startMs: number; endMs: number }[] };
    expect(chaos.schedule).toEqual(r.schedule);
    // Fault times relative to the clients' start, as the schedule's: each starts at or after its planned time.
    for (const a of chaos.applied) expect(a.startMs).toBeGreaterThanOrEqual(a.planned.atMs - 5);
    for (const a of chaos.applied) expect(a.endMs).toBeGreaterThan(a.startMs);
  }, 150_000);

  it('reports a violation, exits 1 and prints the seed when followers serve stale reads', async () => {
    const seed = 3;
    const out = path.join(tmp, 'buggy');
    const child = spawn(process.execPath, [BIN, 'chaos', '--servers', '3', '--clients', '4', '--duration', '15s', '--seed', String(seed), '--faults', 'partition,pause', '--trace', '--out', out], {
      env: { ...process.env, RAFTKV_INJECT_BUG: 'stale-read' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code, output).toBe(1);
    expect(output).toContain('RAFTKV_INJECT_BUG=stale-read: the servers run with a known bug, on purpose');
    expect(JSON.parse(readFileSync(path.join(out, 'chaos.json'), 'utf8'))).toMatchObject({ injectedBug: 'stale-read' });
    expect(output).toMatch(/FAIL +linearizability/);
    expect(output).toContain(`FAIL seed ${seed}:`);
    expect(output).toContain(`raftkv chaos --seed ${seed}`);
    // Traced: every rule of the checker ran on the run directory, not only the history checks.
    for (const rule of ['election-safety', 'state-machine-safety', 'exactly-once', 'history-trace']) expect(output).toMatch(new RegExp(`(PASS|FAIL) +${rule}`));
    // The page's rule table holds the chaos checks too, and the page lists the faults.
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    for (const rule of ['no lost acknowledged write', 'final reads', 'not stuck']) expect(html).toContain(rule);
    expect(html).toContain('Faults (s after the clients started)');
  }, 150_000);
});
