import * as grpc from '@grpc/grpc-js';
import { beforeSend } from '../../tracing/send-barrier.ts';
import { TickBatch } from '../../tracing/tick-batch.ts';
import type { WireClientReply, WireClientRequest } from './wire.ts';
import { splitBatch } from './wire-size.ts';

export type SessionRequest = Omit<WireClientRequest, 'callId' | 'timeoutMs'>;

interface PendingCall {
  resolve(reply: WireClientReply): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  /** Handed to the stream: from here on the server may have received it. */
  written: boolean;
}

/**
 * A call that got no reply. `maybeDelivered` is false only when the request certainly
 * never reached the server (still queued here, or no connection was ever made), so the
 * caller knows that nothing was done for it.
 */
export class CallError extends Error {
  constructor(
    message: string,
    readonly maybeDelivered: boolean,
  ) {
    super(message);
    this.name = 'CallError';
  }
}

/**
 * Calls over one long-lived KV Session stream to one server. A unary gRPC call costs a
 * new HTTP/2 stream with headers and trailers each way; a message on an open stream
 * costs one frame, which is most of a small operation's CPU on both ends.
 *
 * Each call has its own timeout (a stream has no per-message deadline); when the stream
 * breaks (the server died or restarted), every call on it fails at once, like a unary
 * call would, and the next call opens a new stream.
 */
type Session = grpc.ClientDuplexStream<{ requests: WireClientRequest[] }, { replies: WireClientReply[] }>;

export class CallStream {
  private stream: Session | null = null;
  private readonly pending = new Map<number, PendingCall>();
  private nextCallId = 1;
  /**
   * Calls not written yet, sent as one message (several if they are big): at once after
   * the caller's synchronous code when no other call is pending, else at the end of the
   * turn of the event loop (TickBatch).
   */
  private readonly outbox = new TickBatch<WireClientRequest>((requests) => {
    beforeSend();
    for (const r of requests) {
      const call = this.pending.get(r.callId);
      if (call) call.written = true;
    }
    const stream = this.stream ?? this.open();
    for (const batch of splitBatch(requests)) stream.write({ requests: batch });
  });

  constructor(
    private readonly client: grpc.Client,
    private readonly label: string,
  ) {}

  call(request: SessionRequest, timeoutMs: number): Promise<WireClientReply> {
    const callId = this.nextCallId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const written = this.pending.get(callId)?.written ?? true;
        this.pending.delete(callId);
        reject(new CallError(`${this.label}: no reply within ${timeoutMs} ms`, written));
      }, timeoutMs);
      const alone = this.pending.size === 0;
      this.pending.set(callId, { resolve, reject, timer, written: false });
      this.outbox.push({ ...request, callId, timeoutMs: Math.ceil(timeoutMs) }, alone);
    });
  }

  /** Fails every pending call and closes the stream; a later call opens a new one. */
  close(): void {
    const stream = this.stream;
    this.stream = null;
    stream?.cancel();
    this.failAll(`${this.label}: closed`);
  }

  private open(): Session {
    const method = (this.client as unknown as Record<string, () => Session>).Session;
    const stream = method.call(this.client);
    stream.on('data', ({ replies }: { replies: WireClientReply[] }) => {
      for (const reply of replies) {
        const call = this.pending.get(reply.callId);
        if (!call) continue; // timed out already
        this.pending.delete(reply.callId);
        clearTimeout(call.timer);
        call.resolve(reply);
      }
    });
    stream.on('error', (err: grpc.ServiceError) => {
      // grpc-js fails a call this way when the channel never connected: nothing left here.
      const neverConnected = err.code === grpc.status.UNAVAILABLE && /^No connection established/.test(err.details ?? '');
      // grpc-js ends a failed connection's text with "Resolution note: " even when it has none.
      this.broken(stream, `${this.label}: ${(err.details || err.message).replace(/\.? Resolution note: ?$/, '')}`, !neverConnected);
    });
    stream.on('end', () => this.broken(stream, `${this.label}: the server ended the session`, true));
    this.stream = stream;
    return stream;
  }

  private broken(stream: Session, reason: string, maybeDelivered: boolean): void {
    if (stream !== this.stream) return;
    this.stream = null;
    this.failAll(reason, maybeDelivered);
  }

  /** Calls still in the outbox fail too: sending them later would run what the caller was told failed. */
  private failAll(reason: string, maybeDelivered = true): void {
    this.outbox.clear();
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const c of calls) {
      clearTimeout(c.timer);
      c.reject(new CallError(reason, maybeDelivered && c.written));
    }
  }
}
