import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { CollectorSink } from '../../tracing/collector-sink.ts';
import { NullSink, type TraceSink } from '../../tracing/record.ts';
import { Tracer } from '../../tracing/tracer.ts';
import type { VectorClock } from '../../tracing/clock.ts';
import type { HistoryEntry } from '../../tracing/history.ts';
import type { ClientOp, KeyValue } from '../kv/command.ts';
import { isReadOp, opKeys, opValue } from '../kv/op-info.ts';
import { decodeToken, encodeToken } from '../transport/codec.ts';
import { opToWire } from '../transport/op-codec.ts';
import { channelOptions, KVService } from '../transport/proto.ts';
import { CallError, CallStream } from '../transport/call-stream.ts';
import { mark } from '../../tracing/timeline.ts';
import type { WireClientReply } from '../transport/wire.ts';
import { AdminClient } from '../transport/admin-client.ts';
import { firstReachable } from './first-reachable.ts';
import { KeyLock } from './key-lock.ts';
import { ResultStream } from './result-stream.ts';

interface ServerAddress {
  id: string;
  addr: string;
}

export interface ClientOptions {
  clientId: string;
  servers: ServerAddress[];
  /** The server to talk to first (default: the first listed). */
  serverId?: string;
  /** How long start() waits for any server to answer (default: attemptTimeoutMs x 2). */
  connectTimeoutMs?: number;
  /** One attempt's deadline; on expiry the client fails over to another server. */
  attemptTimeoutMs?: number;
  /** Give up on an operation after this long, with an error. */
  opTimeoutMs?: number;
  /**
   * The opId of this client's first operation (default 1). A client that continues an
   * identity across processes (the CLI's --client-id) passes its next opId; one that
   * retries an operation whose outcome it does not know passes that operation's opId.
   */
  firstOpId?: number;
  /** host:port of the tracing server: records and history stream there. */
  traceServer?: string;
  /** A sink of the caller's instead (tests); overrides traceServer. */
  sink?: TraceSink;
  initialClock?: VectorClock;
  /** Every finished operation, with monotonic call and return times (history.json). */
  onHistory?: (entry: HistoryEntry) => void;
  /**
   * Learn the cluster's membership from the server connected to, and fail over across it
   * (default true). False keeps the client to `servers`: a client that can reach only
   * those, as scenarios model a partitioned client.
   */
  discoverMembers?: boolean;
  /**
   * Move to the leader once a reply names it (a result's leaderId, or a NOT_LEADER
   * reply's hint), so later operations skip the follower's forwarding hop, as etcd's
   * clients and the Raft paper's (§8) do (default true). Only to a server among those
   * this client fails over across. False keeps the client on the server it chose, whose
   * forwarding then shows in traces (PutFwd, PutResultFwd).
   */
  followLeader?: boolean;
}

export interface OpOutcome {
  opId: number;
  op: ClientOp['type'];
  key: string;
  value: string;
  values?: string[];
  /** Set when the operation failed; `value` is then empty. */
  error?: string;
  /** What the error means for the operation's effect; set with `error`. */
  errorKind?: ErrorKind;
  /** The error came from applying the operation (e.g. incr on text), not from reaching it (errorKind 'failed'). */
  failed?: boolean;
  servedBy?: string;
  latencyMs: number;
}

/**
 * What an error says about the operation's effect:
 * - refused: the cluster refused it as invalid (a key too long...): nothing was applied;
 * - failed: it was applied and failed (incr on text): nothing changed;
 * - unknown: a write that was sent and got no final answer: it may or may not take effect;
 * - unavailable: no leader could order it: a write was not applied; a read got no answer.
 */
export type ErrorKind = 'refused' | 'failed' | 'unknown' | 'unavailable';

export class ClientError extends Error {
  constructor(
    message: string,
    readonly outcome: OpOutcome,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** Shortest attempt worth making: servers answer 100 ms before a call's deadline. */
const MIN_ATTEMPT_MS = 300;

/** Reply codes worth another attempt with the same opId; the rest are final answers. */
const RETRYABLE = new Set(['NOT_LEADER', 'NO_LEADER', 'TIMEOUT', 'UNAVAILABLE']);

/**
 * kvslib: a client of the cluster. Talks to one server at a time (any server forwards to
 * the leader; the client moves to the leader once a reply names it), fails over on silence, retries with the same opId so a write is applied
 * once, orders operations per key, and traces its path.
 */
export class KvClient extends EventEmitter {
  readonly clientId: string;
  readonly results = new ResultStream<OpOutcome>();
  private readonly opts: Required<Pick<ClientOptions, 'attemptTimeoutMs' | 'opTimeoutMs'>> & ClientOptions;
  private readonly tracer: Tracer;
  private readonly collector: CollectorSink | null;
  private readonly keyLock = new KeyLock();
  /** Per server: its gRPC client and the Session stream calls go over, made on first use. */
  private readonly links = new Map<string, { client: grpc.Client; session: CallStream }>();
  private current: ServerAddress;
  /**
   * The servers failover walks: those given, then the cluster's membership as a server
   * reports it (members join and leave, Raft §6), so a client given one address finds
   * the rest.
   */
  private servers: ServerAddress[];
  /** The membership request under way, closed by stop() so it never holds the process open. */
  private refreshing: AdminClient | null = null;
  private nextOpId: number;
  private readonly unanswered = new Set<number>();
  /** Settles an unfinished operation with an error (used by stop()). */
  private readonly pending = new Map<number, (error: string) => void>();
  private stopped = false;

  private constructor(opts: ClientOptions, collector: CollectorSink | null) {
    super();
    this.collector = collector;
    if (!opts.clientId || /\s/.test(opts.clientId)) throw new Error(`clientId must be non-empty without whitespace (got "${opts.clientId}")`);
    if (opts.servers.length === 0) throw new Error('servers must list at least one server');
    this.clientId = opts.clientId;
    this.nextOpId = opts.firstOpId ?? 1;
    if (!Number.isSafeInteger(this.nextOpId) || this.nextOpId < 1) throw new Error(`firstOpId must be a positive integer (got ${opts.firstOpId})`);
    this.opts = { attemptTimeoutMs: 2000, opTimeoutMs: 20_000, ...opts };
    this.tracer = new Tracer(opts.clientId, opts.sink ?? collector ?? new NullSink(), opts.initialClock);
    const first = opts.serverId ? opts.servers.find((s) => s.id === opts.serverId) : opts.servers[0];
    if (!first) throw new Error(`serverId ${opts.serverId} is not among the servers`);
    this.current = first;
    this.servers = [...opts.servers];
  }

  /** Starts a client connected to a reachable server; rejects if none answers. */
  static async start(opts: ClientOptions): Promise<KvClient> {
    let collector: CollectorSink | null = null;
    let initialClock = opts.initialClock;
    if (!opts.sink && opts.traceServer) ({ sink: collector, initialClock } = await CollectorSink.open({ addr: opts.traceServer, host: opts.clientId }));
    const client = new KvClient({ ...opts, initialClock }, collector);
    client.tracer.record('KvslibStart', { clientId: client.clientId });
    const servers = opts.servers.map((s) => ({ id: s.id, client: client.link(s).client }));
    const connectMs = opts.connectTimeoutMs ?? 2 * client.opts.attemptTimeoutMs;
    // At most half the time goes to waiting for the preferred server (it may be frozen).
    const id = await firstReachable(servers, client.current.id, connectMs, Math.min(client.opts.attemptTimeoutMs, connectMs / 2));
    if (id !== null) {
      client.connect(opts.servers.find((s) => s.id === id)!);
      client.refreshMembers();
      return client;
    }
    await client.close();
    throw new Error(`no server answered within ${connectMs} ms among ${opts.servers.map((s) => `${s.id}@${s.addr}`).join(', ')}`);
  }

  get serverId(): string {
    return this.current.id;
  }

  get(key: string): Promise<OpOutcome> {
    return this.execute({ type: 'get', key });
  }
  put(key: string, value: string): Promise<OpOutcome> {
    return this.execute({ type: 'put', key, value });
  }
  delete(key: string): Promise<OpOutcome> {
    return this.execute({ type: 'delete', key });
  }
  incr(key: string): Promise<OpOutcome> {
    return this.execute({ type: 'incr', key });
  }
  expire(key: string, ttlSeconds: number): Promise<OpOutcome> {
    return this.execute({ type: 'expire', key, ttlSeconds });
  }
  mget(keys: string[]): Promise<OpOutcome> {
    return this.execute({ type: 'mget', keys });
  }
  mput(pairs: KeyValue[]): Promise<OpOutcome> {
    return this.execute({ type: 'mput', pairs });
  }

  /**
   * Runs one operation. The promise resolves with its result or rejects with a
   * ClientError; either way the outcome also goes to `results` and the 'result' event.
   * `timeoutMs` overrides the client's opTimeoutMs for this operation.
   */
  execute(op: ClientOp, timeoutMs = this.opts.opTimeoutMs): Promise<OpOutcome> {
    if (this.stopped) return Promise.reject(new Error(`client ${this.clientId} is stopped`));
    const opId = this.nextOpId++;
    this.unanswered.add(opId);
    const family = isReadOp(op) ? 'Get' : 'Put';
    const traceId = `${this.clientId}:${opId}`;
    const key = opKeys(op).join(',');
    const body = { clientId: this.clientId, opId, key, ...(isReadOp(op) ? {} : { value: opValue(op) }) };
    const call = now();
    this.tracer.record(`${family}Start`, body, traceId);
    return new Promise<OpOutcome>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: OpOutcome, token?: string) => {
        if (settled) return;
        settled = true;
        this.pending.delete(opId);
        this.unanswered.delete(opId);
        const resultBody = { ...body, value: outcome.value, ...(outcome.error ? { error: outcome.error } : {}) };
        this.tracer.receive(decodeToken(token ?? ''), `${family}ResultRecvd`, resultBody, traceId);
        this.recordHistory({
          clientId: this.clientId,
          opId,
          op,
          call,
          return: now(),
          ...(outcome.error ? { error: outcome.error, ...(outcome.failed ? { failed: true } : {}) } : { output: { value: outcome.value, ...(outcome.values ? { values: outcome.values } : {}) } }),
        });
        this.results.push(outcome);
        this.emit('result', outcome);
        if (outcome.error) reject(new ClientError(outcome.error, outcome));
        else resolve(outcome);
      };
      // Stopped mid-flight: a write may have reached the leader.
      const stopKind: ErrorKind = isReadOp(op) ? 'unavailable' : 'unknown';
      this.pending.set(opId, (error) => finish({ opId, op: op.type, key, value: '', error, errorKind: stopKind, latencyMs: now() - call }));
      void this.run(op, opId, family, body, traceId, call, timeoutMs, finish);
    });
  }

  private async run(
    op: ClientOp,
    opId: number,
    family: string,
    body: Record<string, unknown>,
    traceId: string,
    call: number,
    timeoutMs: number,
    finish: (o: OpOutcome, token?: string) => void,
  ): Promise<void> {
    const release = await this.keyLock.acquire(opKeys(op));
    const outcome = (fields: Partial<OpOutcome>): OpOutcome => ({ opId, op: op.type, key: body.key as string, value: '', latencyMs: now() - call, ...fields });
    try {
      const deadline = call + timeoutMs;
      // What a server said beats a transport error: "no leader: a majority may be down"
      // explains more than the deadline of the attempt that was cut short.
      let serverError: string | null = null;
      let transportError = 'no attempt made';
      // A write is "unknown" once any attempt may have reached a leader that proposed it;
      // while every attempt provably did not (no leader known, never sent) it was not applied.
      let maybeApplied = false;
      const write = !isReadOp(op);
      // At least one attempt, even if the operation waited out its time behind earlier
      // operations on its key: every Start has a Send, and the answer says why it failed.
      // Later attempts only while one fits before the deadline: a shorter one could not
      // be answered, and would run past the time the caller gave.
      for (let attempt = 0; (attempt === 0 || deadline - now() >= MIN_ATTEMPT_MS) && !this.stopped; attempt++) {
        const token = this.tracer.send(`${family}Send`, { ...body, serverId: this.current.id, attempt }, traceId);
        let reply: WireClientReply;
        try {
          mark('client.send');
          reply = await this.link(this.current).session.call({
            clientId: this.clientId,
            opId,
            firstUnacked: Math.min(...this.unanswered),
            op: opToWire(op),
            traceId,
            token: encodeToken(token),
            forwarded: false,
          }, Math.min(this.opts.attemptTimeoutMs, Math.max(MIN_ATTEMPT_MS, deadline - now())));
        } catch (err) {
          transportError = (err as Error).message;
          if (!(err instanceof CallError) || err.maybeDelivered) maybeApplied = true;
          this.failover();
          continue;
        }
        if (reply.ok) {
          mark('client.reply');
          this.followTo(reply.leaderId);
          finish(outcome({ value: reply.value, ...(reply.values.length > 0 || op.type === 'mget' ? { values: reply.values } : {}), servedBy: reply.servedBy }), reply.token);
          return;
        }
        if (!RETRYABLE.has(reply.code)) {
          const kind = finalKind(reply.code, write);
          finish(outcome({ error: reply.error, errorKind: kind, ...(kind === 'failed' ? { failed: true } : {}), servedBy: reply.servedBy }), reply.token);
          return;
        }
        // NO_LEADER: the server knew no leader, so it neither proposed nor forwarded this.
        if (reply.code !== 'NO_LEADER') maybeApplied = true;
        serverError = `${reply.servedBy || this.current.id}: ${reply.error}`;
        // A server that cannot reach a leader (NO_LEADER, TIMEOUT: e.g. it sits on the
        // minority side of a partition) or the leader it forwards to (UNAVAILABLE) may be
        // the only one that cannot: try the next. NOT_LEADER names a leader this server
        // knows and forwards to on the retry, so stay (or, with followLeader, go to it).
        if (reply.code !== 'NOT_LEADER') this.failover();
        else this.followTo(reply.leaderId);
        await sleep(Math.min(50 * 2 ** Math.min(attempt, 4), 500, Math.max(0, deadline - now())));
      }
      finish(outcome({
        error: this.stopped ? `client ${this.clientId} stopped before the operation finished` : `gave up after ${Math.round(timeoutMs)} ms: ${serverError ?? transportError}`,
        errorKind: write && (maybeApplied || this.stopped) ? 'unknown' : 'unavailable',
      }));
    } finally {
      release();
    }
  }

  /** Moves to the next server in the list, recording the new connection. */
  private failover(): void {
    if (this.stopped) return;
    const list = this.servers;
    const next = list[(list.findIndex((s) => s.id === this.current.id) + 1) % list.length];
    this.connect(next);
    this.refreshMembers();
  }

  /**
   * Talks to `leaderId` from the next attempt on, when followLeader allows and it is a
   * server this client knows (the failover list): a leader outside it (a partitioned
   * client's view) is not dialed.
   */
  private followTo(leaderId: string): void {
    if (this.stopped || this.opts.followLeader === false || !leaderId || leaderId === this.current.id) return;
    const leader = this.servers.find((s) => s.id === leaderId);
    if (leader) this.connect(leader);
  }

  /**
   * Asks the current server for the membership (Admin.MemberList), in the background; on
   * an answer the members become the failover list. Best effort: a server that cannot say
   * (an older one, or one still starting) leaves the list as it was.
   */
  private refreshMembers(): void {
    if (this.refreshing || this.stopped || this.opts.discoverMembers === false) return;
    const admin = new AdminClient(this.current.addr);
    this.refreshing = admin;
    admin
      .memberList(1000)
      .then(
        (list) => {
          if (!this.stopped && list.members.length > 0) this.servers = list.members.map((m) => ({ id: m.id, addr: m.addr }));
        },
        () => undefined,
      )
      .finally(() => {
        admin.close();
        if (this.refreshing === admin) this.refreshing = null;
      });
  }

  /** The servers this client would fail over to, in order (the membership once a server has told it). */
  knownServers(): { id: string; addr: string }[] {
    return this.servers.map((s) => ({ ...s }));
  }

  private connect(server: ServerAddress): void {
    this.current = server;
    this.tracer.record('NewServerConnection', { clientId: this.clientId, serverId: server.id, serverAddr: server.addr });
  }

  private link(server: ServerAddress): { client: grpc.Client; session: CallStream } {
    let l = this.links.get(server.id);
    if (!l) {
      const client = new KVService(server.addr, grpc.credentials.createInsecure(), channelOptions);
      l = { client, session: new CallStream(client, server.id) };
      this.links.set(server.id, l);
    }
    return l;
  }

  /**
   * Settles every pending operation with an error, then records KvslibStop last. Waits
   * up to `traceWaitMs` for the tracing server to confirm it has every record.
   */
  async stop(traceWaitMs?: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.refreshing?.close();
    for (const settle of [...this.pending.values()]) settle(`client ${this.clientId} stopped before the operation finished`);
    this.tracer.record('KvslibStop', { clientId: this.clientId });
    await this.close(traceWaitMs);
  }

  private async close(traceWaitMs?: number): Promise<void> {
    this.results.close();
    for (const { client, session } of this.links.values()) {
      session.close();
      client.close();
    }
    await this.collector?.close(traceWaitMs);
  }

  private recordHistory(entry: HistoryEntry): void {
    this.opts.onHistory?.(entry);
    this.collector?.writeHistory(entry);
  }

  /** The tracer's clock, for a restarted client that wants its counter to continue. */
  clock(): VectorClock {
    return this.tracer.currentClock();
  }
}

/** A final error reply's meaning: INVALID and NOSPACE refused it; FAILED ran it (nothing changed); anything else (INTERNAL) leaves a write unknown. */
function finalKind(code: string, write: boolean): ErrorKind {
  if (code === 'INVALID' || code === 'NOSPACE') return 'refused';
  if (code === 'FAILED') return 'failed';
  return write ? 'unknown' : 'unavailable';
}

/**
 * The machine's monotonic clock (CLOCK_MONOTONIC, one clock for every process on the
 * machine), in ms: history.json's call and return times are compared across client
 * processes. performance.timeOrigin + performance.now() is not comparable across
 * processes: timeOrigin is read at start-up and was measured off by up to 20 ms under
 * load, enough for a read to seem to return before the write it saw was called.
 */
function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
