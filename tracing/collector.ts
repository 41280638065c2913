import * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { statSync } from 'node:fs';
import { parseClock, type VectorClock } from './clock.ts';
import { TRACE_MESSAGE_BYTES, TraceCollectorService, type WireBatch } from './proto.ts';
import { RunWriter } from './run-writer.ts';
import { readSpoolLines } from './spool.ts';
import { scanChunk, shivizEvents, type LineSpan } from './chunk-scan.ts';
import { parseLine, type LineParts } from './trace-line.ts';
import { processExists } from '../src/os/process-exists.ts';

interface CollectorOptions {
  /** The run's directory: shiviz.log, trace.jsonl and history.jsonl (history.json once stopped) go here. */
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
  /** Per host, its latest record's counter and clock (JSON): what LastClock answers. */
  const last = new Map<string, { counter: number; clock: string }>();

  /** A record read as text: written unless its host's latest counter is past it already (a resend). */
  const accept = (p: LineParts) => {
    if (p.counter <= (last.get(p.host)?.counter ?? 0)) return;
    last.set(p.host, { counter: p.counter, clock: p.clock });
    writer.addLine(p);
  };

  /**
   * Every trace line of a chunk (lines end in a newline); how many. A chunk whose lines
   * are all news, in the shape formatLine writes, is taken as bytes (chunk-scan.ts): it
   * goes to trace.jsonl as it came and its ShiViz events are copied from it, with no text
   * made of it. The usual case; any other chunk is read line by line as text.
   */
  const acceptChunk = (chunk: Buffer): number => {
    const spans = scanChunk(chunk);
    if (spans !== null && allNews(spans)) {
      // LastClock's clock text: only of each host's last line in the chunk.
      const noted = new Set<string>();
      for (let i = spans.length - 1; i >= 0; i--) {
        const s = spans[i];
        if (noted.has(s.host)) continue;
        noted.add(s.host);
        last.set(s.host, { counter: s.counter, clock: chunk.toString('utf8', s.clockStart, s.clockEnd) });
      }
      writer.addChunk(chunk, shivizEvents(chunk, spans), spans.length);
      return spans.length;
    }
    const text = chunk.toString('utf8');
    let lines = 0;
    for (let start = 0; start < text.length; ) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      if (end > start) {
        // A malformed line is dropped; the sender's other records still count.
        const p = parseLine(text.slice(start, end));
        if (p) accept(p);
        lines++;
      }
      start = end + 1;
    }
    return lines;
  };

  /** Every line news, in order (a host's counters grow along a chunk, past what arrived before). */
  const allNews = (spans: readonly LineSpan[]): boolean => {
    const seen = new Map<string, number>();
    for (const s of spans) {
      if (s.counter <= (seen.get(s.host) ?? last.get(s.host)?.counter ?? 0)) return false;
      seen.set(s.host, s.counter);
    }
    return true;
  };

  /**
   * The spools processes named when they asked LastClock (before any token of theirs
   * could leave), by host: the latest life's. A process writes each record to its spool
   * before a token naming it leaves, but what it streams here may still sit in its own
   * buffers when it is killed, and a process that is not restarted never resends. So once
   * its pid is gone (checked on every timer tick, and at once when a stream breaks) the
   * records of that host its spool holds beyond what arrived are taken from there.
   */
  const spools = new Map<string, { file: string; pid: number; done: boolean; read: string }>();
  const recover = (host: string, s: { file: string; read: string }) => {
    // Unchanged since the last read (a Flush each 100 ms reads every live spool): skip it.
    const read = stamp(s.file);
    if (read === s.read) return;
    s.read = read;
    for (const line of readSpoolLines(s.file, run)) {
      const p = parseLine(line);
      if (p && p.host === host) accept(p);
    }
  };
  /** `all`: alive ones too (their spools are ahead of their streams, so nothing is taken twice). */
  const sweep = (all = false) => {
    for (const [host, s] of spools) {
      if (s.done || (!all && processExists(s.pid))) continue;
      s.done = !all || !processExists(s.pid);
      recover(host, s);
    }
  };

  const server = new grpc.Server({ 'grpc.max_receive_message_length': TRACE_MESSAGE_BYTES });
  server.addService(TraceCollectorService.service, {
    Stream(call: grpc.ServerReadableStream<WireBatch, object>, callback: grpc.sendUnaryData<object>) {
      let received = 0;
      call.on('data', (batch: WireBatch) => {
        if (batch.lines.length > 0) received += acceptChunk(batch.lines);
        for (const json of batch.history) {
          received++;
          try {
            const entry: unknown = JSON.parse(json);
            if (entry !== null && typeof entry === 'object' && !Array.isArray(entry)) writer.addHistory(entry as Record<string, unknown>, json);
          } catch {
            // A malformed entry is dropped; the others still count.
          }
        }
      });
      call.on('end', () => callback(null, { received }));
      // The sender died mid-stream: keep what arrived, and take the rest from its spool.
      call.on('error', () => sweep());
      call.on('cancelled', () => sweep());
    },
    LastClock(call: grpc.ServerUnaryCall<{ host: string; spool?: string; pid?: number }, object>, callback: grpc.sendUnaryData<object>) {
      const { host, spool, pid } = call.request;
      if (host && spool && path.isAbsolute(spool) && pid) spools.set(host, { file: spool, pid, done: false, read: '' });
      callback(null, { clock: last.get(host)?.clock ?? '{}', run });
    },
    Flush(_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) {
      sweep(true);
      writer.flush();
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
    lastClock: (h) => parseClock(last.get(h)?.clock ?? '{}'),
    flush: () => {
      sweep(true);
      writer.flush();
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

/** What identifies a spool's content now: inode and size of both segments. */
function stamp(file: string): string {
  return [file, `${file}.1`]
    .map((f) => {
      try {
        const st = statSync(f);
        return `${st.ino}:${st.size}`;
      } catch {
        return '-';
      }
    })
    .join('/');
}
