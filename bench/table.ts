import type { FailoverResult } from './failover.ts';
import type { OpKind } from './workload.ts';

export interface RowResult {
  /** e.g. "raftkv-3", "raftkv-3+trace", "etcd-3/go", "etcd-3/node". */
  system: string;
  kind: 'raftkv' | 'etcd';
  /**
   * The client program that drove the row: "node" = this bench process (kvslib for RaftKV,
   * bench/etcd-target.ts's unary gRPC client for etcd); "go" = etcd's own Go client
   * (clientv3) in the separate load generator process bench/etcd/loadgen.
   */
  driver: 'node' | 'go';
  servers: number;
  traced: boolean;
  op: OpKind;
  concurrency: number;
  /** How the row's clients were spread, e.g. "1F" or "3F+1L" (F = follower, L = leader). */
  clients: string;
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
  /** CPU used in the measured window, in cores (1.0 = one core busy): the cluster's processes. */
  serverCores: number;
  /** ...and the process running the clients (this bench process, or the Go load generator). The machine's total is os.cpus().length. */
  clientCores: number;
  /** ...and everything else on the machine (noise: other processes, idle clusters, kernel). */
  otherCores: number;
  /** Traced rows: how long the tracing server took, after the load stopped, to take in the rest. */
  traceBacklogMs?: number;
}

export interface Column<T> {
  title: string;
  width: number;
  align?: 'left' | 'right';
  get: (row: T) => string;
}

function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

function fmtRate(x: number): string {
  return Number.isFinite(x) ? x.toFixed(0) : '-';
}

function fmtRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : '-';
}

function cell<T>(c: Column<T>, text: string): string {
  return c.align === 'left' ? text.padEnd(c.width) : text.padStart(c.width);
}

export function header<T>(cols: Column<T>[]): string {
  const h = cols.map((c) => cell(c, c.title)).join('  ');
  return `${h}\n${'-'.repeat(h.length)}`;
}

export function line<T>(cols: Column<T>[], row: T): string {
  return cols.map((c) => cell(c, c.get(row))).join('  ');
}

export function table<T>(cols: Column<T>[], rows: T[]): string {
  return [header(cols), ...rows.map((r) => line(cols, r))].join('\n');
}

export const ROW_COLUMNS: Column<RowResult>[] = [
  { title: 'system', width: 14, align: 'left', get: (r) => r.system },
  { title: 'op', width: 3, align: 'left', get: (r) => r.op },
  { title: 'conc', width: 4, get: (r) => String(r.concurrency) },
  { title: 'clients', width: 7, get: (r) => r.clients },
  { title: 'ops/s', width: 7, get: (r) => fmtRate(r.opsPerSec) },
  { title: 'p50 ms', width: 7, get: (r) => fmtMs(r.p50) },
  { title: 'p90 ms', width: 7, get: (r) => fmtMs(r.p90) },
  { title: 'p99 ms', width: 7, get: (r) => fmtMs(r.p99) },
  { title: 'max ms', width: 7, get: (r) => fmtMs(r.max) },
  { title: 'errors', width: 6, get: (r) => String(r.errors) },
  { title: 'cpu srv/clnt/other', width: 18, get: (r) => `${fmtCores(r.serverCores)}/${fmtCores(r.clientCores)}/${fmtCores(r.otherCores)}` },
];

function fmtCores(c: number): string {
  return Number.isFinite(c) ? c.toFixed(2) : '-';
}

/** A RaftKV row and the etcd row of the same size, op and concurrency, driven by `driver`. */
export interface Comparison {
  servers: number;
  op: OpKind;
  concurrency: number;
  /** Which etcd client drove the etcd row (see RowResult.driver); RaftKV's is always kvslib. */
  driver: 'node' | 'go';
  raftkv: RowResult;
  etcd: RowResult;
}

export const COMPARISON_COLUMNS: Column<Comparison>[] = [
  { title: 'srv', width: 3, get: (c) => String(c.servers) },
  { title: 'op', width: 3, align: 'left', get: (c) => c.op },
  { title: 'conc', width: 4, get: (c) => String(c.concurrency) },
  { title: 'raftkv ops/s', width: 12, get: (c) => fmtRate(c.raftkv.opsPerSec) },
  { title: 'etcd ops/s', width: 10, get: (c) => fmtRate(c.etcd.opsPerSec) },
  { title: 'tput raftkv/etcd', width: 16, get: (c) => fmtRatio(c.raftkv.opsPerSec / c.etcd.opsPerSec) },
  { title: 'raftkv p50', width: 10, get: (c) => fmtMs(c.raftkv.p50) },
  { title: 'etcd p50', width: 8, get: (c) => fmtMs(c.etcd.p50) },
  { title: 'p50 raftkv/etcd', width: 15, get: (c) => fmtRatio(c.raftkv.p50 / c.etcd.p50) },
  { title: 'raftkv p99', width: 10, get: (c) => fmtMs(c.raftkv.p99) },
  { title: 'etcd p99', width: 8, get: (c) => fmtMs(c.etcd.p99) },
  { title: 'client cpu raftkv/etcd', width: 22, get: (c) => `${fmtCores(c.raftkv.clientCores)}/${fmtCores(c.etcd.clientCores)}` },
];

export interface TraceCost {
  concurrency: number;
  off: RowResult;
  on: RowResult;
}

export const TRACE_COLUMNS: Column<TraceCost>[] = [
  { title: 'op', width: 3, align: 'left', get: () => 'put' },
  { title: 'conc', width: 4, get: (t) => String(t.concurrency) },
  { title: 'off ops/s', width: 9, get: (t) => fmtRate(t.off.opsPerSec) },
  { title: 'on ops/s', width: 9, get: (t) => fmtRate(t.on.opsPerSec) },
  { title: 'tput on/off', width: 11, get: (t) => fmtRatio(t.on.opsPerSec / t.off.opsPerSec) },
  { title: 'off p50', width: 7, get: (t) => fmtMs(t.off.p50) },
  { title: 'on p50', width: 7, get: (t) => fmtMs(t.on.p50) },
  { title: 'p50 on/off', width: 10, get: (t) => fmtRatio(t.on.p50 / t.off.p50) },
  { title: 'backlog s', width: 9, get: (t) => (t.on.traceBacklogMs === undefined ? '-' : (t.on.traceBacklogMs / 1000).toFixed(1)) },
  { title: 'sustained on ops/s', width: 18, get: (t) => fmtRate(sustainedOpsPerSec(t.on)) },
];

/** A traced row's throughput counting the time its tracing server needed to catch up. */
function sustainedOpsPerSec(r: RowResult): number {
  return r.ops / ((r.windowMs + (r.traceBacklogMs ?? 0)) / 1000);
}

export const FAILOVER_COLUMNS: Column<FailoverResult>[] = [
  { title: 'system', width: 10, align: 'left', get: (f) => f.system },
  { title: 'kills', width: 5, get: (f) => String(f.trials.length) },
  { title: 'gaps ms', width: 24, align: 'left', get: (f) => f.trials.map((t) => t.gapMs.toFixed(0)).join(' ') },
  { title: 'median gap', width: 10, get: (f) => fmtMs(f.medianGapMs) },
  { title: 'median 1st ok', width: 13, get: (f) => fmtMs(f.medianFirstOkMs) },
  { title: 'median slowest put', width: 18, get: (f) => fmtMs(f.medianMaxPutMs) },
  { title: 'errors', width: 6, get: (f) => String(f.trials.reduce((s, t) => s + t.errors, 0)) },
];
