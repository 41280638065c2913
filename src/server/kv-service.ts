import * as grpc from '@grpc/grpc-js';
import { NullSink } from '../../tracing/record.ts';
import { beforeSend } from '../../tracing/send-barrier.ts';
import { Tracer } from '../../tracing/tracer.ts';
import { buildCommand, encodeCommand, validateOp, type ClientOp, type OpResult, type ReadOp } from '../kv/command.ts';
import { isReadOp, opKeys, opValue } from '../kv/op-info.ts';
import { decodeToken, encodeToken } from '../transport/codec.ts';
import { opFromWire } from '../transport/op-codec.ts';
import { splitBatch } from '../transport/wire-size.ts';
import { TickBatch } from '../../tracing/tick-batch.ts';
import { mark } from '../../tracing/timeline.ts';
import type { ReplyCode, WireClientReply, WireClientRequest } from '../transport/wire.ts';
import { EntryTooLargeError, NotLeaderError } from './errors.ts';
import type { Forwarder } from './forwarder.ts';
import { injectedBug } from './injected-bug.ts';
import type { RaftNode } from './raft-node.ts';

const BUG = injectedBug();

interface KvServiceContext {
  id: string;
  node: RaftNode;
  tracer: Tracer;
  forwarder: Forwarder;
  /** How long the leader waits for a commit (or a read round) before TIMEOUT. */
  commitTimeoutMs: number;
  /** How long a server without a known leader waits for an election before NO_LEADER. */
  noLeaderWaitMs: number;
  peerCount: number;
  /** A write is refused if the data held, with writes under way and its own, would pass this many bytes (MemoryLimits.quotaBytes). */
  quotaBytes: number;
  /** UTF-8 bytes of keys and values in writes proposed here and not yet answered. */
  quota: { pendingBytes: number };
}

/** The most an operation can add to the key space, in UTF-8 bytes (incr: its key and a 16-digit number). */
function opBytes(op: ClientOp): number {
  const b = (s: string) => Buffer.byteLength(s, 'utf8');
  switch (op.type) {
    case 'put':
      return b(op.key) + b(op.value);
    case 'mput':
      return op.pairs.reduce((n, p) => n + b(p.key) + b(p.value), 0);
    case 'incr':
      return b(op.key) + 16;
    default:
      return 0;
  }
}

/** Operations that can grow the key space; delete and expire only shrink it, so they pass a full quota. */
const GROWS = new Set<ClientOp['type']>(['put', 'mput', 'incr']);

class Timeout extends Error {}

/** The client-facing KV service: any server takes a request, the leader orders it. */
export function kvHandlers(ctx: KvServiceContext): grpc.UntypedServiceImplementation {
  // A request without a token comes from a client that traces nowhere: recording its path
  // would leave server events (and log entries) of an operation with no Start.
  const untraced: KvServiceContext = { ...ctx, tracer: new Tracer(`${ctx.id}-untraced`, new NullSink()) };
  const run = (req: WireClientRequest, deadline: number): Promise<WireClientReply> => {
    const traced = req.token !== '';
    return execute(traced ? ctx : untraced, traced ? req : { ...req, traceId: '' }, deadline);
  };
  return {
    Execute(call: grpc.ServerUnaryCall<WireClientRequest, WireClientReply>, callback: grpc.sendUnaryData<WireClientReply>) {
      run(call.request, deadlineOf(call)).then(
        (reply) => {
          beforeSend();
          callback(null, reply);
        },
        (err: Error) => callback({ code: grpc.status.INTERNAL, details: `internal error: ${err.message}` }),
      );
    },
    Session(call: grpc.ServerDuplexStream<{ requests: WireClientRequest[] }, { replies: WireClientReply[] }>) {
      let open = true;
      let inFlight = 0;
      let halfClosed = false;
      // Replies go together (TickBatch): the one to a lone request at once, after its
      // result's microtasks; those to many requests in flight at the end of the turn.
      const replies = new TickBatch<WireClientReply>((batch) => {
        if (!open) return;
        beforeSend();
        for (const replies of splitBatch(batch)) call.write({ replies });
      });
      // A caller that half-closes still gets the replies to what it sent, then the end.
      const endIfDone = () => {
        if (!halfClosed || inFlight > 0 || !open) return;
        replies.flush();
        open = false;
        call.end();
      };
      const close = () => {
        open = false;
        replies.clear();
      };
      call.on('end', () => {
        halfClosed = true;
        endIfDone();
      });
      call.on('cancelled', close);
      call.on('error', close);
      call.on('data', ({ requests }: { requests: WireClientRequest[] }) => {
        for (const req of requests) {
          const deadline = req.timeoutMs > 0 ? Date.now() + req.timeoutMs - REPLY_MARGIN_MS : Infinity;
          inFlight++;
          run(req, deadline)
            .catch((err: Error) => ({ ...failure(ctx, 'INTERNAL', `internal error: ${err.message}`), token: '' }))
            .then((reply) => {
              inFlight--;
              // A reply after the caller hung up has no one to read it; the work itself is done.
              if (open) replies.push({ ...reply, callId: req.callId }, inFlight === 0);
              endIfDone();
            });
        }
      });
    },
  };
}

/**
 * The caller's deadline bounds everything done for it: once the client has given up, a
 * late forward or proposal would apply an operation the client was told had failed.
 */
function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : Number(d);
  // Answer a little early: an error that arrives after the caller gave up explains nothing.
  return Number.isFinite(ms) ? ms - REPLY_MARGIN_MS : Infinity;
}

const REPLY_MARGIN_MS = 100;

async function execute(ctx: KvServiceContext, req: WireClientRequest, deadline: number): Promise<WireClientReply> {
  const op = opFromWire(req.op);
  const family = typeof op !== 'string' && isReadOp(op) ? 'Get' : 'Put';
  const body = traceBody(req, op);
  ctx.tracer.receive(decodeToken(req.token), `${family}Recv`, body, req.traceId);
  const invalid = typeof op === 'string' ? op : requestError(req) ?? validateOp(op);
  if (invalid !== null) return failure(ctx, 'INVALID', invalid);
  const clientOp = op as ClientOp;

  if (BUG === 'stale-read' && isReadOp(clientOp) && !ctx.node.isLeader) return staleRead(ctx, req, clientOp as ReadOp, family, body);
  if (!ctx.node.isLeader) {
    if (req.forwarded) return failure(ctx, 'NOT_LEADER', `${ctx.id} is not the leader`);
    const leader = await waitForLeader(ctx, Math.min(ctx.noLeaderWaitMs, deadline - Date.now()));
    // NO_LEADER, not TIMEOUT, when none is known: the client then knows nothing was proposed.
    if (leader === null && Date.now() >= deadline) return failure(ctx, 'NO_LEADER', `no leader known to ${ctx.id} before the request's deadline`);
    if (Date.now() >= deadline) return failure(ctx, 'TIMEOUT', 'the request deadline passed before it could be forwarded to the leader');
    if (leader === null) {
      return failure(ctx, 'NO_LEADER', `no leader elected within ${ctx.noLeaderWaitMs} ms: fewer than a majority of the ${ctx.peerCount} servers may be up and connected`);
    }
    if (leader !== ctx.id) return forward(ctx, req, leader, family, body, deadline);
  }
  return serve(ctx, req, clientOp, family, body, deadline);
}

async function forward(ctx: KvServiceContext, req: WireClientRequest, leader: string, family: string, body: Record<string, unknown>, deadline: number): Promise<WireClientReply> {
  const token = ctx.tracer.send(`${family}Fwd`, { ...body, leaderId: leader }, req.traceId);
  let reply: WireClientReply | null;
  const deposed = leaderChangedFrom(ctx, leader);
  try {
    const call = ctx.forwarder.execute(leader, { ...req, token: encodeToken(token), forwarded: true }, Math.min(ctx.commitTimeoutMs + 1000, deadline - Date.now()));
    reply = await Promise.race([call, deposed.changed]);
  } catch (err) {
    return failure(ctx, 'UNAVAILABLE', `leader ${leader} unreachable from ${ctx.id}: ${(err as Error).message}`, leader);
  } finally {
    deposed.cancel();
  }
  if (reply === null) {
    // A frozen (SIGSTOP) or cut-off leader keeps its connections open, so the call would
    // wait out the caller's whole deadline; once this server has seen the cluster move on,
    // answer at once so the client retries (same opId: applied at most once) and the retry
    // is forwarded to the new leader.
    return failure(ctx, 'NOT_LEADER', `${leader} stopped answering and ${ctx.id} no longer follows it; retry (the operation is applied at most once)`, ctx.node.leaderId);
  }
  if (!reply.token) return reply;
  const relayed = ctx.tracer.relay(decodeToken(reply.token), `${family}ResultFwd`, { ...body, value: reply.value, ...(reply.ok ? {} : { error: reply.error }) }, req.traceId);
  return { ...reply, token: encodeToken(relayed) };
}

async function serve(ctx: KvServiceContext, req: WireClientRequest, op: ClientOp, family: string, body: Record<string, unknown>, deadline: number): Promise<WireClientReply> {
  mark('leader.request');
  let result: OpResult;
  let release = () => {};
  const timeoutMs = Math.min(ctx.commitTimeoutMs, deadline - Date.now());
  if (timeoutMs <= 0) return failure(ctx, 'TIMEOUT', 'the request deadline passed before the leader got it');
  try {
    if (isReadOp(op)) {
      result = await withTimeout(ctx.node.read(op as ReadOp), timeoutMs);
    } else {
      const built = buildCommand({ clientId: req.clientId, opId: req.opId, firstUnacked: req.firstUnacked }, op, ctx.node.logNow());
      if (!built.ok) return failure(ctx, 'INVALID', built.error);
      // At the leader, before proposing, as etcd's quota does: an entry once in the log is
      // applied the same way everywhere, whatever each server's own config says. Writes
      // proposed and not yet answered count too, so concurrent ones cannot overshoot.
      const adds = GROWS.has(op.type) ? opBytes(op) : 0;
      const held = ctx.node.kv.dataBytes + ctx.quota.pendingBytes;
      if (adds > 0 && held + adds > ctx.quotaBytes) {
        return failure(ctx, 'NOSPACE', `the cluster holds ${held.toLocaleString('en-US')} bytes of keys and values (with writes under way) and this write adds up to ${adds.toLocaleString('en-US')}; the quota (memory.quotaBytes) is ${ctx.quotaBytes.toLocaleString('en-US')}: delete keys or raise the quota`);
      }
      ctx.quota.pendingBytes += adds;
      release = () => (ctx.quota.pendingBytes -= adds);
      ctx.tracer.record('RaftPutReq', body, req.traceId);
      const applied = await withTimeout(ctx.node.propose(encodeCommand(built.command), req.traceId), timeoutMs);
      mark('leader.applied');
      if (!applied) throw new Error('a command was applied as a no-op');
      result = applied.result;
    }
  } catch (err) {
    release();
    if (err instanceof NotLeaderError) return failure(ctx, 'NOT_LEADER', err.message, err.leaderId);
    if (err instanceof EntryTooLargeError) return failure(ctx, 'INVALID', err.message);
    if (err instanceof Timeout) {
      return failure(ctx, 'TIMEOUT', `not committed within ${timeoutMs} ms: a majority of the ${ctx.peerCount} servers may be down or cut off (retrying with the same opId is safe)`);
    }
    throw err;
  }
  release();
  const value = result.ok ? result.value : '';
  const token = ctx.tracer.send(`${family}Result`, { ...body, value, ...(result.ok ? {} : { error: result.error }) }, req.traceId);
  return {
    ok: result.ok,
    value,
    values: result.ok ? result.values ?? [] : [],
    error: result.ok ? '' : result.error,
    code: result.ok ? '' : 'FAILED',
    leaderId: ctx.id,
    servedBy: ctx.id,
    token: encodeToken(token),
    callId: 0,
  };
}

/** RAFTKV_INJECT_BUG=stale-read (injected-bug.ts): the follower's own state, no ReadIndex. Wrong on purpose. */
function staleRead(ctx: KvServiceContext, req: WireClientRequest, op: ReadOp, family: string, body: Record<string, unknown>): WireClientReply {
  const result = ctx.node.kv.read(op, ctx.node.logNow());
  const value = result.ok ? result.value : '';
  const token = ctx.tracer.send(`${family}Result`, { ...body, value, ...(result.ok ? {} : { error: result.error }) }, req.traceId);
  return { ok: result.ok, value, values: result.ok ? result.values ?? [] : [], error: result.ok ? '' : result.error, code: result.ok ? '' : 'FAILED', leaderId: ctx.node.leaderId ?? '', servedBy: ctx.id, token: encodeToken(token), callId: 0 };
}

function requestError(req: WireClientRequest): string | null {
  if (!req.clientId) return 'clientId is required';
  if (!Number.isSafeInteger(req.opId) || req.opId < 1) return `opId must be a positive integer (got ${req.opId})`;
  if (req.firstUnacked > req.opId) return `firstUnacked (${req.firstUnacked}) cannot exceed opId (${req.opId})`;
  return null;
}

/** An error reply. Untraced: the client records only results, and retries errors. */
function failure(ctx: KvServiceContext, code: ReplyCode, error: string, leaderId?: string | null): WireClientReply {
  return { ok: false, value: '', values: [], error, code, leaderId: leaderId ?? ctx.node.leaderId ?? '', servedBy: ctx.id, token: '', callId: 0 };
}

function traceBody(req: WireClientRequest, op: ClientOp | string): Record<string, unknown> {
  if (typeof op === 'string') return { clientId: req.clientId, opId: req.opId };
  const body: Record<string, unknown> = { clientId: req.clientId, opId: req.opId, key: opKeys(op).join(','), op: op.type };
  if (!isReadOp(op)) body.value = opValue(op);
  return body;
}

function waitForLeader(ctx: KvServiceContext, waitMs: number): Promise<string | null> {
  if (ctx.node.leaderId !== null || waitMs <= 0) return Promise.resolve(ctx.node.leaderId);
  return new Promise((resolve) => {
    const done = (leader: string | null) => {
      clearTimeout(timer);
      unsubscribe();
      resolve(leader);
    };
    const timer = setTimeout(() => done(null), waitMs);
    const unsubscribe = ctx.node.onRoleChange(() => {
      if (ctx.node.leaderId !== null) done(ctx.node.leaderId);
    });
  });
}

/**
 * Resolves `changed` with null as soon as this server stops taking `leader` for the
 * leader (an election started or another leader won); cancel() stops watching.
 */
function leaderChangedFrom(ctx: KvServiceContext, leader: string): { changed: Promise<null>; cancel: () => void } {
  let cancel = () => {};
  const changed = new Promise<null>((resolve) => {
    cancel = ctx.node.onRoleChange(() => {
      if (ctx.node.leaderId !== leader) resolve(null);
    });
  });
  return { changed, cancel };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout()), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
