import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { loadRun } from '../../tracing/check/load.ts';
import { formatReport, runChecks } from '../../tracing/check/report.ts';
import { HISTORY_LOG } from '../../tracing/history-file.ts';
import { freePorts, startTestCluster, type TestCluster } from './helpers.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
let tc: TestCluster | null = null;
let traceServer: ChildProcess | null = null;
let root: string | null = null;
afterEach(async () => {
  await tc?.teardown();
  if (traceServer?.exitCode === null && traceServer.signalCode === null) traceServer.kill('SIGKILL');
  if (root) rmSync(root, { recursive: true, force: true });
  tc = null;
  traceServer = null;
  root = null;
});

async function until(what: string, ok: () => boolean, limitMs = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

it('a tracing server killed with -9 leaves the history of every operation it had flushed, and the run grades', async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-ts-killed-'));
  const [port] = await freePorts(1);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/raftkv.ts', 'trace-server', '--port', String(port), '--data', root, '--run', 'r'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  traceServer = child;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await until('the tracing server to listen', () => out.includes('tracing server on') || child.exitCode !== null);
  expect(child.exitCode, out).toBeNull();
  const addr = `127.0.0.1:${port}`;
  const dir = path.join(root, 'r');

  tc = await startTestCluster(3, (c) => ({ ...c, traceServer: addr }));
  await tc.cluster.waitForLeader();
  const c = await tc.client({ clientId: 'kate', traceServer: addr });
  for (let i = 0; i < 5; i++) await c.put(`k${i}`, `v${i}`);
  expect((await c.get('k4')).value).toBe('v4');
  const logged = () => (existsSync(path.join(dir, HISTORY_LOG)) ? readFileSync(path.join(dir, HISTORY_LOG), 'utf8').split('\n').filter(Boolean).length : 0);
  await until('the six operations in history.jsonl', () => logged() === 6);

  child.kill('SIGKILL');
  await new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
  await tc.teardown();
  tc = null;

  // No history.json was ever written; the checker reads history.jsonl in its place.
  expect(existsSync(path.join(dir, 'history.json'))).toBe(false);
  const run = loadRun(dir);
  expect(run.problems.filter((p) => p.includes('history'))).toEqual([]);
  expect(run.history!.map((h) => `${h.op.type} ${'key' in h.op ? h.op.key : ''}`)).toEqual([...Array.from({ length: 5 }, (_, i) => `put k${i}`), 'get k4']);
  const report = runChecks(dir);
  expect(report.abandoned).toEqual({ pid: child.pid, historyFile: HISTORY_LOG });
  expect(formatReport(report)).toMatch(/tracing server \(pid \d+\) stopped without closing it \(killed\?\).*history from history\.jsonl/);
  for (const rule of ['history-trace', 'linearizability', 'client-order']) {
    expect(report.results.find((r) => r.rule === rule)?.status, formatReport(report)).toBe('PASS');
  }
}, 120_000);
