import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CollectorSink } from '../../tracing/collector-sink.ts';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { freePorts } from '../../src/cluster/free-ports.ts';
import { Tracer } from '../../tracing/tracer.ts';
import { parseJsonl } from '../../tracing/shiviz.ts';
import type { VectorClock } from '../../tracing/clock.ts';

/**
 * The send barrier under kill -9: a token that left a process names only records that
 * reach the log, even when the process dies in the same turn, with its stream to the
 * tracing server not yet (or not wholly) sent, and is never restarted to resend.
 */

const FIXTURE = fileURLToPath(new URL('./fixtures/kill-after-send.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

let collector: Collector | null = null;
let dir: string | null = null;
afterEach(async () => {
  await collector?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  collector = null;
  dir = null;
});

/** Runs the fixture to its SIGKILL; returns the token it let out. Killed by pid if it hangs. */
function runKilled(args: string[]): Promise<VectorClock> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (_code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL' || !out.trim()) reject(new Error(`fixture ended with ${signal}, stdout ${JSON.stringify(out)}, stderr ${err}`));
      else resolve(JSON.parse(out.trim()) as VectorClock);
    });
  });
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('kill -9 right after a token left', () => {
  for (const { name, count, pad, mode } of [
    { name: 'before the stream to the tracing server was even open', count: 20, pad: 50, mode: 'first' },
    // 4 MB: far past HTTP/2's flow-control window, so most of it waits in the process.
    { name: 'with megabytes still queued on an open stream', count: 4000, pad: 1000, mode: 'open' },
  ]) {
    it(`${name}: every record up to the one the token names reaches the log, from the spool`, async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-barrier-'));
      collector = await startCollector({ dir: path.join(dir, 'run') });
      const host = 'server0';
      const token = await runKilled([collector.addr, host, path.join(dir, 'spool.jsonl'), String(count), String(pad), mode]);
      const named = token[host];
      expect(named).toBe(count + 2); // ServerStart, the fillers, the send
      // The process is gone and nobody restarts it: the tracing server must find the rest.
      await waitFor(() => (collector!.lastClock(host)[host] ?? 0) >= named, 10_000, `the tracing server to hold ${host}:${named}`);
      collector.flush();
      const { records, errors } = parseJsonl(readFileSync(path.join(collector.dir, 'trace.jsonl'), 'utf8'));
      expect(errors).toEqual([]);
      const counters = records.filter((r) => r.host === host).map((r) => r.clock[host]);
      expect(counters).toEqual(Array.from({ length: named }, (_, i) => i + 1));
    }, 60_000);
  }
});

describe('a server that cannot open its spool', () => {
  it('hands out no tokens: no other host may name records that might never reach the log', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-barrier-'));
    const [port] = await freePorts(1); // nothing listens there
    const warnings: string[] = [];
    const { sink } = await CollectorSink.open({ addr: `127.0.0.1:${port}`, host: 'server0', spoolFile: path.join(dir, 'spool.jsonl'), connectMs: 300, warn: (m) => warnings.push(m) });
    try {
      expect(sink.sendsTokens).toBe(false);
      const tracer = new Tracer('server0', sink);
      expect(tracer.send('PutFwd', {})).toBeUndefined();
      expect(tracer.latestToken()).toBeUndefined();
      expect(warnings.join('\n')).toMatch(/unreachable.*no other host's clock names its events/);
    } finally {
      await sink.close(0);
    }
  });

  it('streams nothing when the tracing server comes up later: its restarted counters would be a second life', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-barrier-'));
    const [port] = await freePorts(1);
    const { sink } = await CollectorSink.open({ addr: `127.0.0.1:${port}`, host: 'server0', spoolFile: path.join(dir, 'spool0.jsonl'), connectMs: 300, warn: () => undefined });
    expect(sink.sendsTokens).toBe(false);
    const collector = await startCollector({ dir: path.join(dir, 'run'), addr: `127.0.0.1:${port}` });
    // A server that did reach it, as a witness that records get through meanwhile.
    const witness = await CollectorSink.open({ addr: collector.addr, host: 'server1', spoolFile: path.join(dir, 'spool1.jsonl') });
    try {
      const lost = new Tracer('server0', sink);
      const seen = new Tracer('server1', witness.sink, witness.initialClock);
      const t0 = Date.now();
      // Past the sink's longest reconnect backoff (1 s), and until the witness's records are in.
      for (let i = 0; i < 60 && (Date.now() - t0 < 2500 || collector.writer.events < 3); i++) {
        lost.record('Apply', { index: i });
        seen.record('Apply', { index: i });
        await new Promise((r) => setTimeout(r, 100));
      }
      collector.flush();
      const { records } = parseJsonl(readFileSync(path.join(collector.dir, 'trace.jsonl'), 'utf8'));
      expect(records.filter((r) => r.host === 'server1').length).toBeGreaterThan(0);
      expect(records.filter((r) => r.host === 'server0')).toEqual([]);
    } finally {
      await sink.close(0);
      await witness.sink.close(0);
      await collector.stop();
    }
  });
});
