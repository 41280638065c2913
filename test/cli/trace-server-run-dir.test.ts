import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Collector } from '../../tracing/collector.ts';
import { startTraceServer } from '../../src/cli/trace-server-command.ts';
import { killCliChildren, runRaftkv } from '../integration/helpers.ts';

const started: Collector[] = [];
let root: string | null = null;
afterEach(async () => {
  killCliChildren();
  for (const c of started.splice(0)) await c.stop();
  if (root) rmSync(root, { recursive: true, force: true });
  root = null;
});

it('two tracing servers started with one run name in one second write different run directories', async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-rundir-'));
  // cluster up names its run by the second: two started together (parallel tests, two
  // terminals) once wrote one run's files from two tracing servers.
  for (let i = 0; i < 3; i++) started.push(await startTraceServer({ dir: root, run: 'cluster-x', addr: '127.0.0.1:0', unique: true }));
  expect(started.map((c) => path.basename(c.dir))).toEqual(['cluster-x', 'cluster-x-2', 'cluster-x-3']);
});

it('an explicit run name (trace-server --run) is used as given', async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-rundir-'));
  started.push(await startTraceServer({ dir: root, run: 'mine', addr: '127.0.0.1:0' }));
  expect(started[0].dir).toBe(path.join(root, 'mine'));
});

it('an explicit run name that holds a run already is refused, and that run is left as it was', async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-rundir-'));
  const first = await startTraceServer({ dir: root, run: 'same', addr: '127.0.0.1:0' });
  first.writer.add({ host: 'server0', traceId: '', tag: 'ServerStart', body: {}, clock: { server0: 1 } });
  await first.stop();
  const before = readFileSync(path.join(root, 'same', 'trace.jsonl'), 'utf8');
  expect(before).toContain('ServerStart');
  await expect(startTraceServer({ dir: root, run: 'same', addr: '127.0.0.1:0' })).rejects.toThrow(/already holds a run \(shiviz\.log, trace\.jsonl, history\.json\)/);
  expect(readFileSync(path.join(root, 'same', 'trace.jsonl'), 'utf8')).toBe(before);
});

it('a run name that is a path (.., /) is refused before anything is written', async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-rundir-'));
  for (const run of ['../escape', 'a/b', '..', '.', '/abs']) {
    const r = await runRaftkv(['trace-server', '--data', path.join(root, 'traces'), '--run', run], { timeoutMs: 30_000 });
    expect(r.code, `${run}: ${r.stderr}`).toBe(2);
    expect(r.stderr).toContain('--run takes a run name');
  }
  expect(readdirSync(root)).toEqual([]);
}, 120_000);

it('a second tracing server on a port in use says so and leaves no run directory behind', async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-rundir-'));
  const traces = path.join(root, 'traces');
  const first = await startTraceServer({ dir: traces, run: 'first', addr: '127.0.0.1:0' });
  started.push(first);
  const port = first.addr.split(':').at(-1)!;
  const r = await runRaftkv(['trace-server', '--data', traces, '--port', port], { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toContain(`127.0.0.1:${port} is in use`);
  expect(r.stderr).not.toContain('No address added');
  expect(readdirSync(traces)).toEqual(['first']);
}, 60_000);
