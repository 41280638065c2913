import * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { isCanonicalClock, parseClock, type VectorClock } from './clock.ts';
import { TRACE_MESSAGE_BYTES, TraceCollectorService, type WireEnvelope, type WireEnvelopeBatch } from './proto.ts';
import type { TraceRecord } from './record.ts';
import { RunWriter } from './run-writer.ts';

interface CollectorOptions {
  /** The run's directory: shiviz.log, trace.jsonl and history.json go here. */
  dir: string;
  /** host:port; port 0 picks a free one. */
  addr?: string;
  /** How often received records are appended to the files. */
  flushMs?: number;
}

export interface Collector {
  addr: string;
  dir: string;
  run: string;
  writer: RunWriter;
  lastClock(host: string): VectorClock;
  flush(): void;
  stop(): Promise<void>;
}

/** Parsed JSON (so valid) that can go into a line as sent: one line, ending in its brace. */
function asSent(json: string): boolean {
  return json.endsWith('}') && !/[\n\r]/.test(json);
}

/**
 * A run directory's name that sorts by time: `${prefix}2026-11-23T09-40-12` (UTC, to the
 * second; colons become dashes so the name is a valid file name everywhere).
 */
export function runName(prefix = ''): string {
  return `${prefix}${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}`;
}

/**
 * The tracing server. Each process streams its records; a stream that breaks (the
 * process died) keeps what arrived. Records a restarted process sends again (from its
 * spool) are recognised by their counter and written once.
 */
export async function startCollector(opts: CollectorOptions): Promise<Collector> {
  const writer = new RunWriter(opts.dir);
  const run = path.basename(path.resolve(opts.dir));
  const last = new Map<string, VectorClock>();

  const accept = (rec: TraceRecord, sent: { body: string; clock?: string }) => {
    const own = rec.clock[rec.host] ?? 0;
    const seen = last.get(rec.host)?.[rec.host] ?? 0;
    if (own <= seen) return;
    last.set(rec.host, rec.clock);
    writer.add(rec, sent);
  };

  const server = new grpc.Server({ 'grpc.max_receive_message_length': TRACE_MESSAGE_BYTES });
  server.addService(TraceCollectorService.service, {
    Stream(call: grpc.ServerReadableStream<WireEnvelopeBatch, object>, callback: grpc.sendUnaryData<object>) {
      let received = 0;
      const take = (env: WireEnvelope) => {
        received++;
        try {
          if (env.record) {
            const r = env.record;
            const body: unknown = JSON.parse(r.body);
            if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('body is not a JSON object');
            const clock = parseClock(r.clock);
            // Written as sent when usable as is (and the clock in the order ShiViz lines use).
            accept(
              { host: r.host, traceId: r.traceId, tag: r.tag, body: body as Record<string, unknown>, clock },
              { body: asSent(r.body) ? r.body : JSON.stringify(body), ...(asSent(r.clock) && isCanonicalClock(clock) ? { clock: r.clock } : {}) },
            );
          } else if (env.history) {
            writer.addHistory(JSON.parse(env.history.json) as Record<string, unknown>);
          }
        } catch {
          // A malformed record is dropped; the sender's other records still count.
        }
      };
      call.on('data', (batch: WireEnvelopeBatch) => {
        for (const env of batch.items) take(env);
      });
      call.on('end', () => callback(null, { received }));
      call.on('error', () => undefined); // the sender died mid-stream: keep what arrived
    },
    LastClock(call: grpc.ServerUnaryCall<{ host: string }, object>, callback: grpc.sendUnaryData<object>) {
      callback(null, { clock: JSON.stringify(last.get(call.request.host) ?? {}), run });
    },
    Flush(_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) {
      writer.flush(true);
      callback(null, { dir: opts.dir, events: writer.events });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.addr ?? '127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const host = (opts.addr ?? '127.0.0.1:0').replace(/:\d+$/, '');
  const timer = setInterval(() => writer.flush(), opts.flushMs ?? 200);
  timer.unref();
  return {
    addr: `${host}:${port}`,
    dir: opts.dir,
    run,
    writer,
    lastClock: (h) => ({ ...(last.get(h) ?? {}) }),
    flush: () => writer.flush(true),
    async stop() {
      clearInterval(timer);
      // Processes still streaming would hold a graceful shutdown open forever.
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      writer.flush(true);
    },
  };
}
