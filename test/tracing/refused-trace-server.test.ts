import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts } from '../../src/cluster/free-ports.ts';
import { CollectorSink } from '../../tracing/collector-sink.ts';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { Tracer } from '../../tracing/tracer.ts';

/**
 * How long CollectorSink.open asks a tracing server before going on without it: a client
 * (no spool) gives up at the first refused connection, where nothing listens; a slow
 * tracing server, one that accepts the connection and answers late, is still waited for;
 * a server (with a spool) keeps asking, so a tracing server started just after it counts.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A real `raftkv trace-server` writing run `run` under `root`, once it listens; stopped by afterEach. */
async function startTraceServerProcess(root: string, run: string): Promise<{ ts: ChildProcess; addr: string }> {
  const [port] = await freePorts(1);
  const addr = `127.0.0.1:${port}`;
  const ts = spawn(process.execPath, ['--import', 'tsx', 'src/cli/raftkv.ts', 'trace-server', '--port', String(port), '--data', root, '--run', run], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  child = ts;
  let out = '';
  ts.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  ts.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const deadline = Date.now() + 30_000;
  while (!out.includes(`tracing server on ${addr}`)) {
    if (ts.exitCode !== null || Date.now() > deadline) throw new Error(`the tracing server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { ts, addr };
}

let dir: string | null = null;
let collector: Collector | null = null;
let child: ChildProcess | null = null;
afterEach(async () => {
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  child = null;
  await collector?.stop();
  collector = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

describe('CollectorSink.open', () => {
  it('a client gives up at the first refused connection, not after its budget', async () => {
    const [port] = await freePorts(1);
    const warnings: string[] = [];
    const started = Date.now();
    // A 30 s budget: asked again until it passed, as before, this took 30 s.
    const { sink } = await CollectorSink.open({ addr: `127.0.0.1:${port}`, host: 'client-1', connectMs: 30_000, warn: (m) => warnings.push(m) });
    const ms = Date.now() - started;
    expect(ms).toBeLessThan(10_000);
    // What the user sees: one line on stderr, and the client goes on.
    expect(warnings).toEqual([`tracing server 127.0.0.1:${port} unreachable: client-1 keeps working, its trace is incomplete (nothing of it reaches the run, and no other host's clock names its events)`]);
    new Tracer('client-1', sink).record('KvslibStart', {});
    await sink.close(1000);
  }, 60_000);

  it('a client waits for a tracing server that accepts but answers late (stopped 2 s)', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-slow-trace-'));
    const { ts, addr } = await startTraceServerProcess(dir, 'slow');
    // Stopped, its socket still accepts connections (the kernel does that): alive but slow,
    // past one LastClock's 1.5 s deadline.
    process.kill(ts.pid!, 'SIGSTOP');
    const resume = setTimeout(() => process.kill(ts.pid!, 'SIGCONT'), 2000);
    const warnings: string[] = [];
    const started = Date.now();
    try {
      const { sink } = await CollectorSink.open({ addr, host: 'client-1', connectMs: 8000, warn: (m) => warnings.push(m) });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      expect(warnings).toEqual([]);
      expect(sink.sendsTokens).toBe(true);
      new Tracer('client-1', sink).record('KvslibStart', { clientId: 'client-1' });
      await sink.close(5000);
    } finally {
      clearTimeout(resume);
      process.kill(ts.pid!, 'SIGCONT');
    }
    const exited = new Promise((r) => ts.once('exit', r));
    process.kill(ts.pid!, 'SIGINT');
    await exited;
    const trace = readFileSync(path.join(dir, 'slow', 'trace.jsonl'), 'utf8');
    expect(trace).toContain('"KvslibStart"');
    expect(trace).toContain('"client-1"');
  }, 60_000);

  it('a server (with a spool) keeps asking past a refused connection: a tracing server started 1 s later gets it', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-late-trace-'));
    const [port] = await freePorts(1);
    const addr = `127.0.0.1:${port}`;
    const late = setTimeout(() => void startCollector({ dir: path.join(dir!, 'late'), addr }).then((c) => (collector = c)), 1000);
    const warnings: string[] = [];
    try {
      const { sink } = await CollectorSink.open({ addr, host: 'server0', spoolFile: path.join(dir, 'spool.jsonl'), connectMs: 15_000, warn: (m) => warnings.push(m) });
      expect(warnings).toEqual([]);
      expect(sink.sendsTokens).toBe(true);
      await sink.close(1000);
    } finally {
      clearTimeout(late);
    }
  }, 60_000);

  it('a client whose tracing server stops answering after start waits at most close()\'s bound, and says its trace may lack the last records', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-hung-later-'));
    const { ts, addr } = await startTraceServerProcess(dir, 'hung');
    const warnings: string[] = [];
    try {
      const { sink } = await CollectorSink.open({ addr, host: 'client-2', connectMs: 8000, warn: (m) => warnings.push(m) });
      expect(sink.sendsTokens).toBe(true);
      process.kill(ts.pid!, 'SIGSTOP'); // hangs from here on: its socket still accepts
      new Tracer('client-2', sink).record('KvslibStart', { clientId: 'client-2' });
      const started = Date.now();
      await sink.close(700);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(warnings).toEqual([`tracing server ${addr} did not confirm client-2's last records within 700 ms: its trace may lack them`]);
    } finally {
      process.kill(ts.pid!, 'SIGCONT');
    }
  }, 60_000);
});
