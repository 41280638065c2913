import * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { parseClock, serializeClock, type VectorClock } from './clock.ts';
import type { HistoryEntry } from './history.ts';
import { TRACE_BATCH_BYTES, TRACE_MESSAGE_BYTES, TRACE_RECORD_BYTES, TraceCollectorService, type WireBatch } from './proto.ts';
import type { TraceRecord, TraceSink } from './record.ts';
import { onBeforeSend } from './send-barrier.ts';
import { Spool } from './spool.ts';
import { TickBatch } from './tick-batch.ts';
import { formatLine, parseLine } from './trace-line.ts';

interface CollectorSinkOptions {
  /** host:port of the tracing server. */
  addr: string;
  host: string;
  /** Where this process keeps its spool (servers: their data dir); none for short-lived clients. */
  spoolFile?: string;
  /**
   * How long open() keeps asking a tracing server that does not answer, ms (default
   * 10,000 with a spool, 1,500 without): a loaded machine can take seconds to answer the
   * first call, and a server that gives up too soon traces without a spool. A process
   * without a spool stops at the first refused connection instead (refusedIsFinal).
   */
  connectMs?: number;
  warn?: (message: string) => void;
}

/** What a process without a spool keeps of what it streamed, to resend after a break, bytes. */
const RECENT_BYTES = 8 * 1024 * 1024;

/** A record as a trace line with its host's own counter, or a history entry's JSON. */
type Item = { line: string; counter: number; spooled: boolean } | { history: string };

/**
 * Streams one process's records to the tracing server. It never blocks or fails the
 * process: an unreachable server is reported once and records are kept (bounded) for
 * when it comes back.
 */
export class CollectorSink implements TraceSink {
  private readonly client: grpc.Client;
  private call: grpc.ClientWritableStream<WireBatch> | null = null;
  /**
   * What this turn of the event loop recorded: spooled and streamed in one write each
   * when a token is about to leave (send barrier) or at the turn's end.
   * Records not yet flushed when the process dies are lost from both places alike, and
   * no token named them, so the log stays consistent.
   */
  private readonly pending = new TickBatch<Item>((items) => this.flush(items));
  private unregister: () => void = () => undefined;
  private ended: Promise<void> | null = null;
  /**
   * What a process without a spool streamed lately (4 to 8 MiB), to send again after a
   * broken stream, as the chunks it sent: Buffers, whose bytes live outside the JavaScript
   * heap. Kept as strings, thousands of lines lived long enough to be promoted, and the
   * garbage collector became the biggest cost tracing added to a client. A process with a
   * spool resends from there instead.
   */
  private recent: { lines: Buffer; last: number }[] = [];
  private recentBytes = 0;
  private warned = false;
  private reconnecting: NodeJS.Timeout | null = null;
  private closed = false;
  /** The stream's buffer is over its mark (the tracing server lags): the spool must not rotate. */
  private congested = false;
  /**
   * False for a process whose tracing server did not answer at start (open()), and for
   * one that wanted a spool but could not open one: its records may never reach the log,
   * so its tracer hands out no tokens (another host's clock naming events the log lacks
   * makes the whole log invalid for ShiViz), and they are not streamed later either.
   */
  get sendsTokens(): boolean {
    return this.tokens;
  }
  private tokens: boolean;

  private constructor(
    private readonly opts: CollectorSinkOptions,
    private readonly spool: Spool | null,
    client?: grpc.Client,
  ) {
    this.tokens = spool !== null || opts.spoolFile === undefined;
    this.client =
      client ??
      new TraceCollectorService(opts.addr, grpc.credentials.createInsecure(), {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        'grpc.max_send_message_length': TRACE_MESSAGE_BYTES,
      });
  }

  /**
   * Connects and works out where this host's clock continues: after the tracing
   * server's last record of it, or after this process's spool if that is further on
   * (those records are sent first). `spooled` is what this host recorded earlier in the
   * same run, so a restarted server can tell where its traced applies stopped.
   */
  static async open(opts: CollectorSinkOptions): Promise<{ sink: CollectorSink; initialClock: VectorClock; spooled: TraceRecord[] }> {
    // Absolute: the tracing server reads it from its own working directory.
    if (opts.spoolFile) opts = { ...opts, spoolFile: path.resolve(opts.spoolFile) };
    const probe = new CollectorSink(opts, null);
    const reply = await probe.firstLastClock(opts.connectMs ?? (opts.spoolFile ? 10_000 : 1_500), !opts.spoolFile);
    if (!reply) {
      // Its counters would restart at 1 (it never learned where its clock goes on), and
      // its records may never arrive: it traces nothing rather than something wrong.
      probe.tokens = false;
      probe.warnOnce(`tracing server ${opts.addr} unreachable: ${opts.host} keeps working, its trace is incomplete (nothing of it reaches the run, and no other host's clock names its events)`);
      probe.unregister = onBeforeSend(() => probe.pending.flush());
      return { sink: probe, initialClock: {}, spooled: [] };
    }
    const spool = opts.spoolFile ? new Spool(opts.spoolFile, reply.run) : null;
    // The probe's connection is up: the sink streams over it rather than dialling again.
    const sink = new CollectorSink(opts, spool, probe.client);
    sink.unregister = onBeforeSend(() => sink.pending.flush());
    const known = reply.clock[opts.host] ?? 0;
    const spooled = spool?.load((r) => (r.clock[opts.host] ?? 0) > known) ?? [];
    const missing = spooled.filter((r) => (r.clock[opts.host] ?? 0) > known);
    for (const r of missing) sink.resend(r);
    const lastSpooled = spooled.at(-1)?.clock;
    const initialClock = lastSpooled && (lastSpooled[opts.host] ?? 0) > known ? lastSpooled : reply.clock;
    return { sink, initialClock, spooled };
  }

  /** `clock`: the record's clock as serializeClock writes it (the tracer has it at hand). */
  write(record: TraceRecord, clock?: string): void {
    this.writeParts(record.host, record.traceId, record.tag, record.body, clock ?? serializeClock(record.clock), record.clock[record.host] ?? 0);
  }

  /** write's path without a TraceRecord (the tracer's, so no clock is copied for it). */
  writeParts(host: string, traceId: string, tag: string, body: Record<string, unknown>, clock: string, counter: number): void {
    // A sink that hands out no tokens never streams (stream()): nothing to keep either.
    if (this.closed || !this.tokens) return;
    this.pending.push({ line: formatLine(host, traceId, tag, JSON.stringify(body), clock), counter, spooled: false });
  }

  writeHistory(entry: HistoryEntry): void {
    if (!this.closed && this.tokens) this.pending.push({ history: JSON.stringify(entry) });
  }

  /** Ends the stream and waits (at most `waitMs`) until the server has everything; warns if it did not confirm. */
  async close(waitMs = 2000): Promise<void> {
    this.pending.flush();
    this.unregister();
    this.closed = true;
    if (this.reconnecting) clearTimeout(this.reconnecting);
    const call = this.call;
    if (call) {
      call.end();
      // The timer is cleared once the server confirms: left running, it would hold a
      // short-lived process (a CLI run) open for the whole wait.
      let timer: NodeJS.Timeout | undefined;
      const confirmed = await Promise.race([(this.ended ?? Promise.resolve()).then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), Math.max(0, waitMs))))]);
      clearTimeout(timer);
      if (!confirmed && !this.warned) this.warn(`tracing server ${this.opts.addr} did not confirm ${this.opts.host}'s last records within ${waitMs} ms: its trace may lack them`);
    }
    this.client.close();
    this.spool?.close();
  }

  /** Resends a record of the spool the server lacks; it is spooled already. */
  private resend(record: TraceRecord): void {
    this.pending.push({ line: formatLine(record.host, record.traceId ?? '', record.tag, JSON.stringify(record.body), serializeClock(record.clock)), counter: record.clock[record.host] ?? 0, spooled: true });
  }

  /** Keeps a streamed chunk (no spool), dropping the oldest past RECENT_BYTES. */
  private remember(lines: Buffer, last: number): void {
    this.recent.push({ lines, last });
    this.recentBytes += lines.length;
    while (this.recentBytes > RECENT_BYTES && this.recent.length > 1) this.recentBytes -= this.recent.shift()!.lines.length;
  }

  private flush(items: Item[]): void {
    // The turn's records as the one text the spool and the stream both take.
    let text = '';
    let count = 0;
    let last = 0;
    let resent = false;
    const history: string[] = [];
    for (const item of items) {
      if ('history' in item) history.push(item.history);
      else {
        text += `${item.line}\n`;
        count++;
        last = Math.max(last, item.counter);
        resent ||= item.spooled;
      }
    }
    const lines = Buffer.from(text, 'utf8');
    if (!this.spool && count > 0) this.remember(lines, last);
    // The spool, not the stream, is what makes the send barrier hold: what call.write()
    // takes waits in this process (gRPC buffers, HTTP/2 flow control: a loaded tracing
    // server reads late) and dies with it, while the message carrying the token may leave
    // on another connection first. Once this process is gone the tracing server reads
    // the spool (tracing/collector.ts), so the spool must hold every record the server
    // may lack: it rotates only while the stream keeps up.
    if (this.spool && count > 0) {
      const fresh = resent ? items.filter((i) => 'line' in i && !i.spooled) as { line: string }[] : null;
      const data = fresh ? Buffer.from(fresh.map((i) => `${i.line}\n`).join(''), 'utf8') : lines;
      this.spool.append(data, fresh ? fresh.length : count, !this.congested && !this.reconnecting);
    }
    // The stream too is written before the token leaves, not a few ms later in one bigger
    // message: the spool covers a kill -9 only while it exists, and a server whose machine
    // is lost takes its spool along (demo scenario 18 deletes the data directory right after
    // the kill), so records still waiting to be streamed would leave another host's clock
    // naming counters no log holds.
    this.stream([{ lines, history }]);
  }

  /** Streams chunks of lines and history entries as one message (or a few, for big values). */
  private stream(parts: { lines: Buffer; history: string[] }[]): void {
    if (parts.length === 0) return;
    // Reconnecting: the spool or `recent` holds the records, resent once the server is back.
    if (this.reconnecting || this.closed) return;
    // A process that found no tracing server at start did not learn where its clock goes
    // on (nor, a server, which applies its last life traced): its counters restarted, and
    // streamed once the tracing server is back they would be a second life under numbers
    // the log already holds. It stays untraced, as it warned, rather than wrong.
    if (!this.tokens) return;
    const lines = parts.length === 1 ? parts[0].lines : Buffer.concat(parts.map((p) => p.lines));
    const history = parts.length === 1 ? parts[0].history : parts.flatMap((p) => p.history);
    const call = this.call ?? this.open();
    const historyBytes = history.reduce((n, h) => n + h.length * 3, 0);
    if (lines.length + historyBytes <= TRACE_BATCH_BYTES) this.writeBatch(call, { lines, history });
    else this.writeInPieces(call, lines.toString('utf8'), history);
  }

  /**
   * A turn's records of big values (a 64 KiB value is up to 384 KiB of JSON) add up fast:
   * one stream message per TRACE_BATCH_BYTES, or a message over the limit would break the
   * stream, and the resend after it would break it again, for good.
   */
  private writeInPieces(call: grpc.ClientWritableStream<WireBatch>, text: string, history: string[]): void {
    let lines: string[] = [];
    let bytes = 0;
    const send = (more: string[] = []) => {
      if (lines.length > 0 || more.length > 0) this.writeBatch(call, { lines: Buffer.from(lines.join(''), 'utf8'), history: more });
      [lines, bytes] = [[], 0];
    };
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      let line = `${raw}\n`;
      let size = Buffer.byteLength(line, 'utf8');
      if (size > TRACE_RECORD_BYTES) {
        line = `${this.omitBody(raw, size)}\n`;
        size = Buffer.byteLength(line, 'utf8');
      }
      if (bytes > 0 && bytes + size > TRACE_BATCH_BYTES) send();
      lines.push(line);
      bytes += size;
    }
    send();
    for (const h of history) {
      const size = Buffer.byteLength(h, 'utf8');
      if (size > TRACE_RECORD_BYTES) this.warn(`${this.opts.host}: a history entry of ${size} bytes, over the ${TRACE_RECORD_BYTES} one trace message carries, was left out of the run's history.json`);
      else send([h]);
    }
  }

  private writeBatch(call: grpc.ClientWritableStream<WireBatch>, batch: WireBatch): void {
    if (call.write(batch) || this.congested) return;
    this.congested = true;
    call.once('drain', () => (this.congested = false));
  }

  private open(): grpc.ClientWritableStream<WireBatch> {
    let done!: () => void;
    this.ended = new Promise((r) => (done = r));
    const call = (this.client as unknown as { Stream: (cb: grpc.requestCallback<object>) => grpc.ClientWritableStream<WireBatch> }).Stream((err) => {
      done();
      if (this.call === call) this.call = null;
      if (err && !this.closed) this.broken(err.details || err.message);
    });
    call.on('error', () => undefined);
    call.on('close', () => (this.congested = false));
    this.call = call;
    return call;
  }

  /** The stream broke: say so once, then resend what the server is missing when it is back. */
  private broken(reason: string): void {
    this.warnOnce(`lost the tracing server ${this.opts.addr} (${reason}): ${this.opts.host} keeps working and will resend when it is back`);
    this.reconnecting = setTimeout(async () => {
      const reply = await this.lastClock();
      this.reconnecting = null;
      if (this.closed) return;
      if (!('clock' in reply)) return this.broken('still unreachable');
      const known = reply.clock[this.opts.host] ?? 0;
      if (this.spool) for (const r of this.spooledSince(known)) this.pending.push({ ...r, spooled: true });
      // Whole chunks: the tracing server drops the lines of one it already has.
      else {
        this.stream(this.recent.filter((r) => r.last > known).map((r) => ({ lines: r.lines, history: [] })));
      }
    }, 1000);
    this.reconnecting.unref();
  }

  /**
   * The spool's records of this host past `known`. The spool keeps them: it does not
   * rotate while the stream is down (flush: mayRotate).
   */
  private spooledSince(known: number): { line: string; counter: number }[] {
    const out: { line: string; counter: number }[] = [];
    for (const line of this.spool!.records()) {
      const p = parseLine(line);
      if (p && p.host === this.opts.host && p.counter > known) out.push({ line: p.line, counter: p.counter });
    }
    return out;
  }

  /**
   * LastClock, asked again (each call with a deadline of 1.5 s) until `budgetMs` passed;
   * null when no call was answered. With `refusedIsFinal`, a refused connection ends it at
   * once: nothing listens on the address (a loaded tracing server still accepts
   * connections, the kernel does that, and answers late), and retrying it only delayed a
   * short-lived client (a CLI put waited 1.4 s for a dead tracing server). A server, with
   * its spool, keeps trying: a tracing server started a moment after it still gets its
   * records and lets it hand out tokens.
   */
  private async firstLastClock(budgetMs: number, refusedIsFinal: boolean): Promise<{ clock: VectorClock; run: string } | null> {
    const until = Date.now() + budgetMs;
    for (;;) {
      const reply = await this.lastClock(Math.min(1500, Math.max(100, until - Date.now())));
      if ('clock' in reply) return reply;
      if ((refusedIsFinal && reply.refused) || Date.now() + 200 >= until) return null;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Where this host's clock stands at the tracing server. Also tells the server this
   * process's spool and pid, before any token of it can leave: once the pid is gone, the
   * server takes from the spool what the stream did not deliver. Unanswered: whether the
   * connection was refused (gRPC fails the call UNAVAILABLE at once, its details naming
   * the socket's ECONNREFUSED), as opposed to a deadline passed or a stream reset.
   */
  private lastClock(deadlineMs = 1500): Promise<{ clock: VectorClock; run: string } | { refused: boolean }> {
    return new Promise((resolve) => {
      const fn = (this.client as unknown as Record<string, Function>).LastClock;
      const req = { host: this.opts.host, spool: this.opts.spoolFile ?? '', pid: process.pid };
      fn.call(this.client, req, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: { clock: string; run: string }) => {
        if (err) resolve({ refused: err.code === grpc.status.UNAVAILABLE && /\bECONNREFUSED\b/.test(err.details ?? '') });
        else resolve({ clock: parseClock(res.clock || '{}'), run: res.run });
      });
    });
  }

  /**
   * What to send of a record no stream message can carry: its event, with the body
   * replaced by a note of its size (the clock stays, so the log stays valid; the spool
   * keeps it whole).
   */
  private omitBody(line: string, bytes: number): string {
    const p = parseLine(line);
    const body = JSON.stringify({ bodyOmitted: `${bytes} bytes, over the ${TRACE_RECORD_BYTES} one trace message carries` });
    return p ? formatLine(p.host, p.traceId, p.tag, body, p.clock) : '';
  }

  private warn(message: string): void {
    (this.opts.warn ?? ((m: string) => console.error(m)))(message);
  }

  private warnOnce(message: string): void {
    if (this.warned) return;
    this.warned = true;
    this.warn(message);
  }
}
