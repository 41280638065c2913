import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { parseClock } from '../../tracing/clock.ts';
import { CollectorSink } from '../../tracing/collector-sink.ts';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import type { TraceRecord, TraceSink } from '../../tracing/record.ts';
import { TraceCollectorService, type WireBatch } from '../../tracing/proto.ts';
import { formatJsonl, formatShiViz, parseShiViz } from '../../tracing/shiviz.ts';
import { formatLine } from '../../tracing/trace-line.ts';
import { Tracer } from '../../tracing/tracer.ts';

/**
 * The tracing server writes records as the processes serialized them (trace lines) and
 * builds their ShiViz events from the lines' pieces without parsing them: the files must
 * be exactly what the formatters make of the records, whatever the bodies hold, with or
 * without a spool.
 */

/** Passes records on to a real sink and keeps them. */
class Tee implements TraceSink {
  constructor(private readonly inner: TraceSink, private readonly kept: TraceRecord[]) {}
  get sendsTokens(): boolean {
    return this.inner.sendsTokens !== false;
  }
  write(record: TraceRecord, clock?: string): void {
    this.kept.push(record);
    this.inner.write(record, clock);
  }
  // The tracer's path into a CollectorSink: the parts, no TraceRecord.
  writeParts(host: string, traceId: string, tag: string, body: Record<string, unknown>, clock: string, counter: number): void {
    this.kept.push({ host, traceId, tag, body, clock: parseClock(clock) });
    this.inner.writeParts!(host, traceId, tag, body, clock, counter);
  }
}

let dir: string;
let collector: Collector | null = null;
afterEach(async () => {
  await collector?.stop();
  collector = null;
  rmSync(dir, { recursive: true, force: true });
});

describe('the files of a run', () => {
  it('hold exactly the records the processes made, as the formatters write them', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-files-'));
    collector = await startCollector({ dir: path.join(dir, 'run') });
    const server = await CollectorSink.open({ addr: collector.addr, host: 'server0', spoolFile: path.join(dir, 'spool.jsonl') });
    const client = await CollectorSink.open({ addr: collector.addr, host: 'client-1', connectMs: 5000 });
    const made: TraceRecord[] = [];
    const s = new Tracer('server0', new Tee(server.sink, made), server.initialClock);
    const c = new Tracer('client-1', new Tee(client.sink, made), client.initialClock);
    const bodies: Record<string, unknown>[] = [
      {},
      { key: 'k', value: 'line\u2028separator\u2029para' },
      { traceId: 'a body of its own', nested: { traceId: 'deeper' } },
      { quote: 'say "hi"', backslash: 'C:\\x', emoji: '🙂', newline: 'a\nb' },
      { value: 'x'.repeat(5000) },
    ];
    for (let i = 0; i < 40; i++) {
      const body = { ...bodies[i % bodies.length], i };
      const traceId = i % 3 === 0 ? '' : `client-1:${i}`;
      const token = c.send('PutSend', body, traceId);
      s.receive(token, 'PutRecv', body, traceId);
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 10)); // several stream messages
    }
    await client.sink.close();
    await server.sink.close();
    collector.flush();
    const shiviz = readFileSync(path.join(collector.dir, 'shiviz.log'), 'utf8');
    const jsonl = readFileSync(path.join(collector.dir, 'trace.jsonl'), 'utf8');
    // Per host in counter order; hosts interleave as their messages arrived.
    const byHost = (host: string) => made.filter((r) => r.host === host);
    const linesOf = (text: string, host: string) => text.split('\n').filter((l) => l.startsWith(`{"host":"${host}"`));
    for (const host of ['server0', 'client-1']) {
      expect(linesOf(jsonl, host)).toEqual(linesOf(formatJsonl(byHost(host)), host));
      const events = (text: string) => parseShiViz(text).events.filter((e) => e.host === host).map(({ line: _line, ...e }) => e);
      expect(events(shiviz)).toEqual(events(formatShiViz(byHost(host))));
    }
    expect(parseShiViz(shiviz).errors).toEqual([]);
    expect(shiviz.split('\n').filter((l) => l.startsWith('server0 ')).length).toBe(40);
    // Every event text line as formatShiViz writes it, byte for byte.
    const eventLines = (text: string) => new Set(text.split('\n').slice(2));
    const expected = eventLines(formatShiViz(made));
    for (const l of eventLines(shiviz)) expect(expected.has(l), l.slice(0, 120)).toBe(true);
  });

  it('takes each record once and in its shape, whether a chunk is all news, repeats one, or is in another key order', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-files-'));
    collector = await startCollector({ dir: path.join(dir, 'run') });
    const line = (n: number, body = `{"n":${n}}`) => formatLine('h', '', 'A', body, `{"h":${n}}`);
    const chunks = [
      [line(1), line(2)], // news: written as the bytes sent
      [line(2), line(3)], // 2 again (a resend after a break): only 3 is news
      ['{"tag":"A","host":"h","traceId":"","clock":{"h":4},"body":{"n":4}}', line(5)], // another key order: rewritten in the usual one
      [line(6), 'not a record', line(7)], // a line that is not a record is dropped, the rest kept
      [line(8, '{"v":"a\u2028b"}')], // a raw U+2028: escaped in the files
    ];
    const rpc = new TraceCollectorService(collector.addr, grpc.credentials.createInsecure());
    try {
      await new Promise<void>((resolve, reject) => {
        const call = (rpc as unknown as { Stream: (cb: (err: Error | null) => void) => grpc.ClientWritableStream<WireBatch> }).Stream((err) => (err ? reject(err) : resolve()));
        for (const c of chunks) call.write({ lines: Buffer.from(c.map((l) => `${l}\n`).join(''), 'utf8'), history: [] });
        call.end();
      });
    } finally {
      rpc.close();
    }
    collector.flush();
    const jsonl = readFileSync(path.join(collector.dir, 'trace.jsonl'), 'utf8');
    expect(jsonl).toBe([1, 2, 3, 4, 5, 6, 7].map((n) => `${line(n)}\n`).join('') + `${line(8, '{"v":"a\\u2028b"}')}\n`);
    const { events, errors } = parseShiViz(readFileSync(path.join(collector.dir, 'shiviz.log'), 'utf8'));
    expect(errors).toEqual([]);
    expect(events.map((e) => e.clock.h)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(events[7].body).toEqual({ v: 'a\u2028b' });
  });
});
