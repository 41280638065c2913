import * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { parseClock, serializeClock, type VectorClock } from './clock.ts';
import type { HistoryEntry } from './history.ts';
import { TRACE_BATCH_BYTES, TRACE_MESSAGE_BYTES, TRACE_RECORD_BYTES, TraceCollectorService, type WireEnvelope, type WireEnvelopeBatch } from './proto.ts';
import type { TraceRecord, TraceSink } from './record.ts';
import { onBeforeSend } from './send-barrier.ts';
import { Spool } from './spool.ts';
import { TickBatch } from './tick-batch.ts';

interface CollectorSinkOptions {
  /** host:port of the tracing server. */
  addr: string;
  host: string;
  /** Where this process keeps its spool (servers: their data dir); none for short-lived clients. */
  spoolFile?: string;
  /**
   * How long open() keeps asking a tracing server that does not answer, ms (default
   * 10,000 with a spool, 1,500 without): a loaded machine can take seconds to answer the
   * first call, and a server that gives up too soon traces without a spool.
   */
  connectMs?: number;
  warn?: (message: string) => void;
}

const RECENT = 10_000;

/**
 * Streams one process's records to the tracing server. It never blocks or fails the
 * process: an unreachable server is reported once and records are kept (bounded) for
 * when it comes back.
 */
export class CollectorSink implements TraceSink {
  private readonly client: grpc.Client;
  private call: grpc.ClientWritableStream<WireEnvelopeBatch> | null = null;
  /**
   * What this turn of the event loop recorded: spooled in one write and sent as one
   * stream message at its end, or sooner when a token is about to leave (send barrier).
   * Records not yet flushed when the process dies are lost from both places alike, and
   * no token named them, so the log stays consistent.
   */
  private readonly pending = new TickBatch<{ env: WireEnvelope; spoolLine?: string }>((items) => this.flush(items));
  private unregister: () => void = () => undefined;
  private ended: Promise<void> | null = null;
  /** The latest records, to send again after a broken stream. */
  private recent: TraceRecord[] = [];
  private warned = false;
  private reconnecting: NodeJS.Timeout | null = null;
  private closed = false;
  /** The stream's buffer is over its mark (the tracing server lags): the spool must not rotate. */
  private congested = false;
  /**
   * False for a process that wanted a spool but could not open one (no tracing server
   * at start): its records may never reach the log, so its tracer hands out no tokens.
   */
  readonly sendsTokens: boolean;

  private constructor(
    private readonly opts: CollectorSinkOptions,
    private readonly spool: Spool | null,
    client?: grpc.Client,
  ) {
    this.sendsTokens = spool !== null || opts.spoolFile === undefined;
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
    const reply = await probe.firstLastClock(opts.connectMs ?? (opts.spoolFile ? 10_000 : 1_500));
    if (!reply) {
      const tokens = probe.sendsTokens ? '' : ' (and names none of its events to others, which cannot count on them reaching the log)';
      probe.warnOnce(`tracing server ${opts.addr} unreachable: ${opts.host} keeps working, its trace is incomplete${tokens}`);
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

  write(record: TraceRecord): void {
    if (this.closed) return;
    const wire = toWire(record);
    this.remember(record);
    this.pending.push({ env: { record: wire }, ...(this.spool ? { spoolLine: spoolLine(wire) } : {}) });
  }

  writeHistory(entry: HistoryEntry): void {
    if (!this.closed) this.pending.push({ env: { history: { json: JSON.stringify(entry) } } });
  }

  /** Ends the stream and waits (at most `waitMs`) until the server has everything. */
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
      await Promise.race([this.ended, new Promise((r) => (timer = setTimeout(r, Math.max(0, waitMs))))]);
      clearTimeout(timer);
    }
    this.client.close();
    this.spool?.close();
  }

  /** Resends a record the server lacks (from the spool or `recent`); it is spooled already. */
  private resend(record: TraceRecord): void {
    this.remember(record);
    this.pending.push({ env: { record: toWire(record) } });
  }

  private remember(record: TraceRecord): void {
    this.recent.push(record);
    if (this.recent.length > 2 * RECENT) this.recent = this.recent.slice(-RECENT);
  }

  private flush(items: { env: WireEnvelope; spoolLine?: string }[]): void {
    const lines = items.flatMap((i) => (i.spoolLine === undefined ? [] : [i.spoolLine]));
    // The spool, not the stream, is what makes the send barrier hold: what call.write()
    // takes waits in this process (gRPC buffers, HTTP/2 flow control: a loaded tracing
    // server reads late) and dies with it, while the message carrying the token may leave
    // on another connection first. Once this process is gone the tracing server reads
    // the spool (tracing/collector.ts), so the spool must hold every record the server
    // may lack: it rotates only while the stream keeps up.
    if (lines.length > 0) this.spool?.appendLines(lines, !this.congested && !this.reconnecting);
    // Reconnecting: `recent` holds the records, resent once the server is back.
    if (this.reconnecting || this.closed) return;
    // A server that found no tracing server at start did not learn where its clock goes on
    // (nor which applies its last life traced): its counters restarted, and streamed once
    // the tracing server is back they would be a second life under numbers the log already
    // holds. Its trace stays incomplete, as it warned, rather than wrong.
    if (!this.sendsTokens) return;
    // Records of big values (a 64 KiB value is up to 384 KiB of JSON) add up fast: one
    // stream message per TRACE_BATCH_BYTES, or a message over the limit would break the
    // stream, and the resend after it would break it again, for good.
    let batch: WireEnvelope[] = [];
    let bytes = 0;
    const call = this.call ?? this.open();
    for (const { env } of items) {
      let size = envelopeBytes(env);
      const sent = size > TRACE_RECORD_BYTES ? this.omitBody(env, size) : env;
      if (sent === null) continue;
      if (sent !== env) size = envelopeBytes(sent);
      if (bytes > 0 && bytes + size > TRACE_BATCH_BYTES) {
        this.writeBatch(call, batch);
        [batch, bytes] = [[], 0];
      }
      batch.push(sent);
      bytes += size;
    }
    if (batch.length > 0) this.writeBatch(call, batch);
  }

  private writeBatch(call: grpc.ClientWritableStream<WireEnvelopeBatch>, items: WireEnvelope[]): void {
    if (call.write({ items }) || this.congested) return;
    this.congested = true;
    call.once('drain', () => (this.congested = false));
  }

  private open(): grpc.ClientWritableStream<WireEnvelopeBatch> {
    let done!: () => void;
    this.ended = new Promise((r) => (done = r));
    const call = (this.client as unknown as { Stream: (cb: grpc.requestCallback<object>) => grpc.ClientWritableStream<WireEnvelopeBatch> }).Stream((err) => {
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
      if (!reply) return this.broken('still unreachable');
      const known = reply.clock[this.opts.host] ?? 0;
      for (const r of this.recent) if ((r.clock[this.opts.host] ?? 0) > known) this.pending.push({ env: { record: toWire(r) } });
    }, 1000);
    this.reconnecting.unref();
  }

  /** LastClock, asked again (each call with a deadline of 1.5 s) until `budgetMs` passed. */
  private async firstLastClock(budgetMs: number): Promise<{ clock: VectorClock; run: string } | null> {
    const until = Date.now() + budgetMs;
    for (;;) {
      const reply = await this.lastClock(Math.min(1500, Math.max(100, until - Date.now())));
      if (reply || Date.now() + 200 >= until) return reply;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Where this host's clock stands at the tracing server. Also tells the server this
   * process's spool and pid, before any token of it can leave: once the pid is gone, the
   * server takes from the spool what the stream did not deliver.
   */
  private lastClock(deadlineMs = 1500): Promise<{ clock: VectorClock; run: string } | null> {
    return new Promise((resolve) => {
      const fn = (this.client as unknown as Record<string, Function>).LastClock;
      const req = { host: this.opts.host, spool: this.opts.spoolFile ?? '', pid: process.pid };
      fn.call(this.client, req, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: { clock: string; run: string }) => {
        if (err) resolve(null);
        else resolve({ clock: parseClock(res.clock || '{}'), run: res.run });
      });
    });
  }

  /**
   * What to send of a record no stream message can carry: its event, with the body
   * replaced by a note of its size (the clock stays, so the log stays valid; the spool
   * keeps it whole); a history entry that big is left out, and said so.
   */
  private omitBody(env: WireEnvelope, bytes: number): WireEnvelope | null {
    const note = `${bytes} bytes, over the ${TRACE_RECORD_BYTES} one trace message carries`;
    if (env.record) return { record: { ...env.record, body: JSON.stringify({ bodyOmitted: note }) } };
    (this.opts.warn ?? ((m: string) => console.error(m)))(`${this.opts.host}: a history entry of ${note} was left out of the run's history.json`);
    return null;
  }

  private warnOnce(message: string): void {
    if (this.warned) return;
    this.warned = true;
    (this.opts.warn ?? ((m: string) => console.error(m)))(message);
  }
}

function envelopeBytes(env: WireEnvelope): number {
  if (env.history) return 64 + Buffer.byteLength(env.history.json, 'utf8');
  const r = env.record!;
  return 64 + Buffer.byteLength(r.body, 'utf8') + r.clock.length + r.host.length + r.traceId.length + r.tag.length;
}

function toWire(r: TraceRecord): NonNullable<WireEnvelope['record']> {
  // Canonical (sorted) here, so the tracing server can write the clock as received.
  return { host: r.host, traceId: r.traceId, tag: r.tag, body: JSON.stringify(r.body), clock: serializeClock(r.clock) };
}

/** The record as one JSON line, reusing the body and clock already serialized for the wire. */
function spoolLine(w: NonNullable<WireEnvelope['record']>): string {
  return `{"host":${JSON.stringify(w.host)},"traceId":${JSON.stringify(w.traceId)},"tag":${JSON.stringify(w.tag)},"body":${w.body},"clock":${w.clock}}`;
}
