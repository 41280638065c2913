import * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { isCanonicalClock, parseClock, type VectorClock } from './clock.ts';
import { TRACE_MESSAGE_BYTES, TraceCollectorService, type WireEnvelope, type WireEnvelopeBatch } from './proto.ts';
import type { TraceRecord } from './record.ts';
import { RunWriter } from './run-writer.ts';
import { readSpool } from './spool.ts';
import { processExists } from '../src/os/process-exists.ts';

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

  /**
   * The spools processes named when they asked LastClock (before any token of theirs
   * could leave), by host: the latest life's. A process writes each record to its spool
   * before a token naming it leaves, but what it streams here may still sit in its own
   * buffers when it is killed, and a process that is not restarted never resends. So once
   * its pid is gone (checked on every timer tick, and at once when a stream breaks) the
   * records of that host its spool holds beyond what arrived are taken from there.
   */
  const spools = new Map<string, { file: string; pid: number; done: boolean }>();
  const recover = (host: string, file: string) => {
    for (const rec of readSpool(file, run)) {
      if (rec.host !== host || !rec.clock || typeof rec.clock !== 'object' || !rec.body || typeof rec.body !== 'object') continue;
      accept({ host, traceId: rec.traceId ?? '', tag: rec.tag, body: rec.body, clock: rec.clock }, { body: JSON.stringify(rec.body) });
    }
  };
  /** `all`: alive ones too (their spools are ahead of their streams, so nothing is taken twice). */
  const sweep = (all = false) => {
    for (const [host, s] of spools) {
      if (s.done || (!all && processExists(s.pid))) continue;
      s.done = !all || !processExists(s.pid);
      recover(host, s.file);
    }
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
      // The sender died mid-stream: keep what arrived, and take the rest from its spool.
      call.on('error', () => sweep());
      call.on('cancelled', () => sweep());
    },
    LastClock(call: grpc.ServerUnaryCall<{ host: string; spool?: string; pid?: number }, object>, callback: grpc.sendUnaryData<object>) {
      const { host, spool, pid } = call.request;
      if (host && spool && path.isAbsolute(spool) && pid) spools.set(host, { file: spool, pid, done: false });
      callback(null, { clock: JSON.stringify(last.get(host) ?? {}), run });
    },
    Flush(_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) {
      sweep(true);
      writer.flush(true);
      callback(null, { dir: opts.dir, events: writer.events });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.addr ?? '127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const host = (opts.addr ?? '127.0.0.1:0').replace(/:\d+$/, '');
  const timer = setInterval(() => {
    sweep();
    writer.flush();
  }, opts.flushMs ?? 200);
  timer.unref();
  return {
    addr: `${host}:${port}`,
    dir: opts.dir,
    run,
    writer,
    lastClock: (h) => ({ ...(last.get(h) ?? {}) }),
    flush: () => {
      sweep(true);
      writer.flush(true);
    },
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
      sweep(true);
      writer.close();
    },
  };
}
