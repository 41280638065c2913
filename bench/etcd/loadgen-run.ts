import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { onInterrupt, trackPids } from '../cleanup.ts';

/** One run of the Go load generator (bench/etcd/loadgen/main.go documents each flag). */
export interface GoLoadOptions {
  /** host:port per member; client i dials only endpoints[i % endpoints.length]. */
  endpoints: string[];
  /** clientv3 clients (gRPC connections); worker w uses client w % clients. */
  clients: number;
  concurrency: number;
  op: 'put' | 'get';
  warmupMs: number;
  durationMs: number;
  keys: number;
  valueBytes: number;
  seed: number;
  /** Deadline of one operation (clientv3 retries inside it), ms. */
  opTimeoutMs: number;
  /** Time to connect each client, ms. */
  dialTimeoutMs: number;
}

/** The load generator's result line. Latencies in ms (-1: no completed operation); CPU in seconds. */
export interface GoLoadResult {
  op: 'put' | 'get';
  conc: number;
  clients: number;
  ops: number;
  errors: number;
  firstError?: string;
  windowMs: number;
  opsPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** The load generator's own CPU (user, system, both) over the measured window. */
  cpuUserSec: number;
  cpuSysSec: number;
  cpuSec: number;
  /** ...and over its whole life (connecting and warm-up included). */
  cpuTotalSec: number;
}

const RESULT_KEYS = ['ops', 'errors', 'windowMs', 'opsPerSec', 'p50', 'p90', 'p99', 'max', 'mean', 'cpuSec', 'cpuTotalSec'] as const;

/** The command-line arguments for `o` (with -marks when the caller wants the window's edges). */
export function loadgenArgs(o: GoLoadOptions, marks: boolean): string[] {
  return [
    '-endpoints', o.endpoints.join(','),
    '-clients', String(o.clients),
    '-conc', String(o.concurrency),
    '-op', o.op,
    '-warmup-ms', String(Math.round(o.warmupMs)),
    '-duration-ms', String(Math.round(o.durationMs)),
    '-keys', String(o.keys),
    '-value-bytes', String(o.valueBytes),
    '-seed', String(o.seed),
    '-op-timeout-ms', String(Math.round(o.opTimeoutMs)),
    '-dial-timeout-ms', String(Math.round(o.dialTimeoutMs)),
    ...(marks ? ['-marks'] : []),
  ];
}

/**
 * Runs the load generator `bin` once and resolves with its result line. `onWindow` is
 * called when it reports that the measured window opened and closed (to sample other
 * processes' CPU over the same window). The process is tracked for the bench's cleanup,
 * killed on Ctrl-C, and killed after warmup + duration + dial and operation timeouts + 15 s.
 * Rejects, with the last lines of its stderr, when it exits non-zero or prints no result.
 */
export function runGoLoad(bin: string, o: GoLoadOptions, onWindow?: (edge: 'open' | 'close') => void): Promise<GoLoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, loadgenArgs(o, onWindow !== undefined), { stdio: ['ignore', 'pipe', 'pipe'] });
    const untrack = trackPids(() => (child.pid === undefined ? [] : [child.pid]));
    const offInterrupt = onInterrupt(async () => {
      child.kill('SIGKILL');
    });
    const limitMs = o.warmupMs + o.durationMs + o.dialTimeoutMs * o.clients + o.opTimeoutMs + 15_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitMs);
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    let result: GoLoadResult | null = null;
    let badLine: string | null = null;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (l) => {
      let msg: unknown;
      try {
        msg = JSON.parse(l);
      } catch {
        badLine ??= l;
        return;
      }
      const mark = (msg as { mark?: unknown }).mark;
      if (mark === 'open' || mark === 'close') onWindow?.(mark);
      else if (isResult(msg)) result = msg;
      else badLine ??= l;
    });
    let settled = false;
    const finish = (err: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      untrack();
      offInterrupt();
      if (err) reject(err);
      else resolve(result as GoLoadResult);
    };
    child.once('error', (err) => finish(new Error(`could not run the load generator ${bin}: ${err.message}`)));
    child.once('close', (code, signal) => {
      const tail = stderr.trim().split('\n').slice(-5).join('\n');
      if (timedOut) finish(new Error(`the load generator did not finish within ${limitMs} ms and was killed${tail ? `:\n${tail}` : ''}`));
      else if (code !== 0) finish(new Error(`the load generator exited with ${code ?? signal}${tail ? `:\n${tail}` : ''}`));
      else if (!result) finish(new Error(`the load generator printed no result line${badLine ? ` (got "${badLine.slice(0, 200)}")` : ''}${tail ? `:\n${tail}` : ''}`));
      else finish(null);
    });
  });
}

function isResult(x: unknown): x is GoLoadResult {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return RESULT_KEYS.every((k) => typeof r[k] === 'number');
}

/** A latency the load generator reported as -1 (no completed operation) becomes NaN, as in the Node rows. */
export function latencyOf(ms: number): number {
  return ms < 0 ? NaN : ms;
}
