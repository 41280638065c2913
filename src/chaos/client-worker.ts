/**
 * A chaos client process (`raftkv chaos-client`, started by clients.ts over IPC): one
 * kvslib client sending random operations (workload.ts), one at a time, until told to
 * stop, and reporting every finished operation to its parent as a history entry. It is
 * a real process, as the servers are, so the history is one a deployed client would
 * record.
 */
import { ClientError, KvClient, type ErrorKind } from '../client/kv-client.ts';
import { seededRng } from '../raft/rng.ts';
import type { HistoryEntry } from '../../tracing/history.ts';
import { nextOp } from './workload.ts';

/** The parent's instructions. */
export interface WorkerStart {
  type: 'start';
  clientId: string;
  /** Client number (0-based): it picks the value range. */
  index: number;
  servers: { id: string; addr: string }[];
  serverId: string;
  traceServer: string | null;
  seed: number;
  keys: number;
  /** Pause between operations, ms (at most; a random part of it). */
  thinkMs: number;
  attemptTimeoutMs: number;
  opTimeoutMs: number;
}
export type ToWorker = WorkerStart | { type: 'stop' };
export type FromWorker = { type: 'op'; entry: HistoryEntry; errorKind?: ErrorKind } | { type: 'log'; line: string } | { type: 'stopped' };

/** Runs the worker in this process until the parent says stop or goes away. */
export function runChaosClientWorker(): void {
  const send = (m: FromWorker) => {
    if (process.connected) process.send?.(m);
  };
  let stopping = false;
  let loop: Promise<void> | null = null;
  process.on('message', (m: ToWorker) => {
    if (m.type === 'start' && loop === null) {
      loop = work(m, send, () => stopping).catch((err: Error) => send({ type: 'log', line: `${m.clientId}: ${err.message}` }));
    } else if (m.type === 'stop') {
      stopping = true;
      void (loop ?? Promise.resolve()).then(() => {
        send({ type: 'stopped' });
        process.disconnect?.();
        process.exit(0);
      });
    }
  });
  // The parent is gone (even killed): nothing left to do.
  process.on('disconnect', () => process.exit(0));
}

async function work(opts: WorkerStart, send: (m: FromWorker) => void, stopping: () => boolean): Promise<void> {
  const rng = seededRng(opts.seed);
  let client: KvClient | null = null;
  // kvslib records each finished operation's history entry before it settles the call.
  let last: HistoryEntry | null = null;
  // The cluster may be partitioned or down at the moment: keep trying to connect.
  while (!client && !stopping()) {
    try {
      client = await KvClient.start({
        clientId: opts.clientId,
        servers: opts.servers,
        serverId: opts.serverId,
        // Stay on the server this worker was given (the workers are spread over the cluster)
        // rather than move to the leader a reply names: followers then forward writes and
        // serve reads through ReadIndex under the faults, which is what there is to break.
        followLeader: false,
        ...(opts.traceServer ? { traceServer: opts.traceServer } : {}),
        attemptTimeoutMs: opts.attemptTimeoutMs,
        opTimeoutMs: opts.opTimeoutMs,
        onHistory: (entry) => (last = entry),
      });
    } catch (err) {
      send({ type: 'log', line: `${opts.clientId}: could not connect yet: ${(err as Error).message}` });
      await sleep(500);
    }
  }
  if (!client) return;
  for (let seq = 1; !stopping(); seq++) {
    const op = nextOp(rng, opts.index, seq, opts.keys);
    last = null;
    let errorKind: ErrorKind | undefined;
    try {
      await client.execute(op);
    } catch (err) {
      if (!(err instanceof ClientError)) throw err;
      errorKind = err.outcome.errorKind;
    }
    const entry = last as HistoryEntry | null;
    if (entry) send({ type: 'op', entry, ...(errorKind ? { errorKind } : {}) });
    if (opts.thinkMs > 0) await sleep(rng.int(0, opts.thinkMs + 1));
  }
  await client.stop();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
