import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts } from '../../src/cluster/free-ports.ts';
import { CollectorSink } from '../../tracing/collector-sink.ts';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { parseJsonl } from '../../tracing/shiviz.ts';
import { Tracer } from '../../tracing/tracer.ts';

/**
 * A stream to the tracing server breaks while the process goes on recording: once a
 * tracing server answers again on the address, what it lacks is resent (a process with a
 * spool resends from there, one without from memory), each record once, in order.
 */

let dir: string;
const collectors: Collector[] = [];
afterEach(async () => {
  await Promise.allSettled(collectors.map((c) => c.stop()));
  collectors.length = 0;
  rmSync(dir, { recursive: true, force: true });
});

const counters = (runDir: string, host: string) =>
  parseJsonl(readFileSync(path.join(runDir, 'trace.jsonl'), 'utf8')).records.filter((r) => r.host === host).map((r) => r.clock[host]);

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a broken stream to the tracing server', () => {
  for (const spooled of [true, false]) {
    it(`is resent in full once a tracing server is back (${spooled ? 'from the spool' : 'from memory, no spool'})`, async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-reconnect-'));
      const [port] = await freePorts(1);
      const addr = `127.0.0.1:${port}`;
      const first = await startCollector({ dir: path.join(dir, 'run-a'), addr, flushMs: 20 });
      collectors.push(first);
      const warnings: string[] = [];
      const { sink, initialClock } = await CollectorSink.open({ addr, host: 'server0', ...(spooled ? { spoolFile: path.join(dir, 'spool.jsonl') } : {}), warn: (m) => warnings.push(m) });
      const tracer = new Tracer('server0', sink, initialClock);
      for (let i = 0; i < 5; i++) tracer.record('Before', { i });
      await until(() => (first.flush(), counters(first.dir, 'server0').length === 5), 'the first 5 records');
      await first.stop();
      // Recorded while no tracing server listens: the stream breaks, the process goes on.
      for (let i = 0; i < 5; i++) {
        tracer.record('During', { i });
        await new Promise((r) => setTimeout(r, 30));
      }
      await until(() => warnings.some((w) => w.includes('lost the tracing server')), 'the warning of a lost stream');
      // A tracing server that knows nothing of server0 (a new run on the same address).
      const second = await startCollector({ dir: path.join(dir, 'run-b'), addr, flushMs: 20 });
      collectors.push(second);
      tracer.record('After', {});
      await until(() => (second.flush(), counters(second.dir, 'server0').length >= 11), 'all 11 records at the second tracing server');
      await sink.close(2000);
      second.flush();
      expect(counters(second.dir, 'server0')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(counters(first.dir, 'server0')).toEqual([1, 2, 3, 4, 5]);
    });
  }
});
