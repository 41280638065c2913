/**
 * RaftKV benchmark: closed-loop put/get rows against real clusters on 127.0.0.1 (durable
 * writes, tracing off) of each size, the same rows against an etcd of the same size when it
 * is installed (driven by etcd's own Go client in a separate process when Go and etcd's
 * client source are installed, and - at the first size - by a Node client in this process),
 * the cost of tracing when a trace server can be started, and leader failover under load. With
 * --growth, the growth benchmark instead (bench/growth.ts): memory, disk, throughput and
 * restart time as the log grows.
 *
 *   npm run bench -- --quick          # 1-2 minute smoke run
 *   npm run bench                     # full run
 *   npm run bench -- --growth         # growth benchmark (10k / 100k / 1M puts)
 *   npm run bench -- --help
 *
 * Benchmarks are not tests: nothing here asserts a speed.
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { installCleanupHandlers, wasInterrupted } from './cleanup.ts';
import { ETCD_INSTALL_HINT, findEtcd } from './etcd/cluster.ts';
import { buildLoadgen, GO_LOADGEN_INSTALL_HINT, type GoLoadgen } from './etcd/loadgen-build.ts';
import { latencyOf, runGoLoad } from './etcd/loadgen-run.ts';
import { startEtcd, type EtcdSystem } from './etcd-target.ts';
import { runFailover, type FailoverResult } from './failover.ts';
import { GROWTH_ARG_SPECS, GROWTH_USAGE, growthOptions, growthResultName, printGrowthReport, runGrowth, type GrowthOptions } from './growth.ts';
import { startRaftkv } from './raftkv-target.ts';
import { cpuSecondsOf, machineBusyCores, machineBusySeconds, noteTaker, spreadOrder, type BenchSystem } from './system.ts';
import {
  COMPARISON_COLUMNS, FAILOVER_COLUMNS, ROW_COLUMNS, TRACE_COLUMNS,
  header, line, table, type Comparison, type RowResult, type TraceCost,
} from './table.ts';
import { commandStarter, defaultTraceServer, type TraceServerStarter } from './trace-server.ts';
import { now, preload, runClosedLoop, type OpKind, type Target } from './workload.ts';

const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));

/** Which client programs drive etcd rows (RowResult.driver). */
type EtcdDriver = 'go' | 'node';

interface BenchOptions {
  quick: boolean;
  /**
   * Cluster sizes. Each gets RaftKV rows and etcd rows driven by the Go client; the first
   * also etcd rows driven by the Node client, the traced rows and failover.
   */
  servers: number[];
  ops: OpKind[];
  concurrency: number[];
  warmupMs: number;
  durationMs: number;
  keys: number;
  valueBytes: number;
  /** Closed-loop workers per client (one KvClient / etcd client per this many workers). */
  workersPerClient: number;
  attemptTimeoutMs: number;
  opTimeoutMs: number;
  preload: boolean;
  etcd: boolean;
  /** Which etcd clients drive etcd rows ("go": every size; "node": the first size). */
  etcdClients: EtcdDriver[];
  failoverRepeats: number;
  failoverConcurrency: number;
  failoverAttemptTimeoutMs: number;
  /** Enables the traced put rows. */
  traceServer: TraceServerStarter | null;
  traceNote: string;
  dataRoot: string;
  /** Directory for per-server V8 CPU profiles (RaftKV servers), or null. */
  cpuProfDir: string | null;
  out: string | null;
  log: (line: string) => void;
}

interface BenchReport {
  startedAt: string;
  finishedAt: string;
  elapsedSec: number;
  host: { cpus: number; cpuModel: string; memGiB: number; node: string; platform: string; dataRoot: string; dataFs: string; busyCoresBeforeStart: number };
  settings: Omit<BenchOptions, 'traceServer' | 'log'> & { traceServer: boolean };
  etcd: {
    version: string | null;
    note: string;
    /** The Go load generator driving the "go" etcd rows, or null (goNote says why). */
    goClient: { goVersion: string; clientVersion: string; bin: string; buildMs: number; cached: boolean } | null;
    goNote: string;
  };
  tracing: { enabled: boolean; note: string };
  rows: RowResult[];
  /** RaftKV vs etcd per size, op and concurrency; driver "go" is the main comparison. */
  comparisons: Comparison[];
  traceCost: TraceCost[];
  failover: FailoverResult[];
  notes: string[];
}

const USAGE = `npm run bench -- [options]

  --quick                  short rows (1-2 minutes in all); CI smoke mode
  --servers 3,5,7          cluster sizes (default 3,5,7, quick 3,5): RaftKV and etcd (Go
                           client) rows at each; the first also gets the etcd rows driven by
                           the Node client, the traced rows and failover
  --rows put,get           which operations to run
  --conc 1,16,64,256       closed-loop concurrency levels
  --duration S             measured seconds per row (default 5, quick 1)
  --warmup S               unmeasured seconds before each row (default 1, quick 0.3)
  --keys N                 key space (default 10000)       --value-bytes N (default 64)
  --no-preload             do not write every key before the rows (quick skips it)
  --no-etcd                run without etcd even if installed (also: BENCH_NO_ETCD=1)
  --etcd-clients go,node   which clients drive the etcd rows: go = etcd's own Go client
                           (bench/etcd/loadgen, built on first use; BENCH_NO_GO=1 pretends
                           Go is absent), node = this process's gRPC client (first size only)
                           Go client needs: ${GO_LOADGEN_INSTALL_HINT.split('   ')[0]}
  --failover-repeats N     leader kills per system (default 5, quick 1; 0 = skip)
  --trace-cmd 'CMD'        start the trace server for the traced put rows with CMD ({port},
                           {addr}, {dir} substituted); default: raftkv trace-server, if the CLI has it
  --no-trace               skip the traced put rows
  --cpu-prof DIR           write a V8 .cpuprofile per RaftKV server process into DIR
  --data-root DIR          where cluster temp dirs go (default ${os.tmpdir()}; must be a real disk)
  --out FILE               JSON results (default bench/results/bench-<time>.json,
                           with --growth bench/results/growth-<time>.json)

${GROWTH_USAGE}`;

/** Flags of the rows mode that mean nothing to --growth (it has its own --growth-*). */
const ROWS_ONLY = ['rows', 'conc', 'duration', 'warmup', 'keys', 'value-bytes', 'no-preload', 'etcd-clients', 'failover-repeats', 'trace-cmd', 'cpu-prof'] as const;

type ParsedOptions = { mode: 'rows'; o: BenchOptions } | { mode: 'growth'; o: GrowthOptions };

function parseOptions(argv: string[]): ParsedOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      servers: { type: 'string' },
      rows: { type: 'string' },
      conc: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      keys: { type: 'string' },
      'value-bytes': { type: 'string' },
      'no-preload': { type: 'boolean', default: false },
      'no-etcd': { type: 'boolean', default: false },
      'etcd-clients': { type: 'string' },
      'failover-repeats': { type: 'string' },
      'trace-cmd': { type: 'string' },
      'no-trace': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      'data-root': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
      ...GROWTH_ARG_SPECS,
    },
  });
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  const given = (k: keyof typeof values) => values[k] !== undefined && values[k] !== false;
  if (values.growth) {
    const bad = ROWS_ONLY.find((k) => given(k));
    if (bad) throw new Error(`--${bad} does not apply to --growth (see the --growth-* options)`);
    return { mode: 'growth', o: growthOptions(values, fsTypeOf, (l) => console.log(l)) };
  }
  const growthOnly = (Object.keys(GROWTH_ARG_SPECS) as (keyof typeof GROWTH_ARG_SPECS)[]).find((k) => given(k));
  if (growthOnly) throw new Error(`--${growthOnly} needs --growth`);
  return { mode: 'rows', o: rowsOptions(values) };
}

function rowsOptions(values: {
  quick: boolean; servers?: string; rows?: string; conc?: string; duration?: string; warmup?: string; keys?: string; 'value-bytes'?: string;
  'no-preload': boolean; 'no-etcd': boolean; 'etcd-clients'?: string; 'failover-repeats'?: string; 'trace-cmd'?: string; 'no-trace': boolean; 'cpu-prof'?: string; 'data-root'?: string; out?: string;
}): BenchOptions {
  const quick = values.quick;
  const ints = (s: string | undefined, d: number[], what: string) => (s === undefined ? d : [...new Set(s.split(',').map((x) => posInt(x, what)))]);
  const ops = (values.rows ?? 'put,get').split(',').map((x) => {
    if (x !== 'put' && x !== 'get') throw new Error(`--rows takes put and/or get (got "${x}")`);
    return x as OpKind;
  });
  const etcdClients = [...new Set((values['etcd-clients'] ?? 'go,node').split(','))].map((x) => {
    if (x !== 'go' && x !== 'node') throw new Error(`--etcd-clients takes go and/or node (got "${x}")`);
    return x as EtcdDriver;
  });
  const dflt = defaultTraceServer();
  return {
    quick,
    servers: ints(values.servers, quick ? [3, 5] : [3, 5, 7], '--servers'),
    ops,
    concurrency: ints(values.conc, [1, 16, 64, 256], '--conc'),
    warmupMs: seconds(values.warmup, quick ? 0.3 : 1, '--warmup') * 1000,
    durationMs: seconds(values.duration, quick ? 1 : 5, '--duration') * 1000,
    keys: posInt(values.keys ?? '10000', '--keys'),
    valueBytes: posInt(values['value-bytes'] ?? '64', '--value-bytes'),
    workersPerClient: 16,
    attemptTimeoutMs: 2000,
    opTimeoutMs: 10_000,
    preload: !quick && !values['no-preload'],
    etcd: !values['no-etcd'],
    etcdClients,
    failoverRepeats: values['failover-repeats'] === undefined ? (quick ? 1 : 5) : nonNegInt(values['failover-repeats'], '--failover-repeats'),
    failoverConcurrency: 16,
    failoverAttemptTimeoutMs: 500,
    traceServer: values['no-trace'] ? null : values['trace-cmd'] ? commandStarter(values['trace-cmd']) : dflt.starter,
    traceNote: values['no-trace'] ? 'skipped (--no-trace)' : values['trace-cmd'] ? `trace server: ${values['trace-cmd']}` : dflt.note,
    dataRoot: path.resolve(values['data-root'] ?? os.tmpdir()),
    cpuProfDir: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null,
    out: values.out ?? null,
    log: (l) => console.log(l),
  };
}

function posInt(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: expected positive integers (got "${s}")`);
  return n;
}
function nonNegInt(s: string, what: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: expected a non-negative integer (got "${s}")`);
  return n;
}
function seconds(s: string | undefined, d: number, what: string): number {
  if (s === undefined) return d;
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new Error(`${what}: expected seconds in (0, 3600] (got "${s}")`);
  return n;
}

/** Filesystem type of the mount holding `dir` (fsync on tmpfs costs nothing). */
function fsTypeOf(dir: string): string {
  try {
    let best = { mount: '', type: 'unknown' };
    for (const l of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mount, type] = l.split(' ');
      if (mount && type && (dir === mount || dir.startsWith(mount.endsWith('/') ? mount : `${mount}/`)) && mount.length >= best.mount.length) best = { mount, type };
    }
    return best.type;
  } catch {
    return 'unknown';
  }
}

let rowSeq = 0;
/**
 * Unmeasured load each system gets before its first row, ms (after the preload, if any):
 * V8 keeps optimizing a RaftKV server's hot paths for several seconds of load (some 570
 * functions; its optimizing compiler was a quarter of a leader's CPU at concurrency 1
 * two seconds in, and the first row's p50 was 1.29 ms against 1.05 ms after 12 s).
 * etcd gets the same, though its native code needs none.
 */
const systemWarmupMs = (o: BenchOptions) => (o.quick ? 2000 : 10_000);

/**
 * One client per `workersPerClient` workers, client i talking first to member
 * spreadOrder[i % n] (a follower first); `label` is the clients column ("1F", "3F+1L").
 */
async function clientSpread(sys: BenchSystem, concurrency: number, o: BenchOptions): Promise<{ members: string[]; label: string }> {
  const leader = await sys.leader();
  const order = spreadOrder(sys.members, leader);
  const nClients = Math.ceil(concurrency / o.workersPerClient);
  const members = Array.from({ length: nClients }, (_, i) => order[i % order.length]);
  const f = members.filter((m) => m !== leader).length;
  const l = members.length - f;
  return { members, label: [f ? `${f}F` : '', l ? `${l}L` : ''].filter(Boolean).join('+') };
}

/**
 * CPU over a row's measured window, in cores: the cluster's processes (from /proc), the
 * client process, and everything else on the machine (other clusters idling, other users,
 * the kernel). `clientCpu` samples the client process's CPU seconds when it is this
 * process; for a separate client process pass null and give its window CPU to finish().
 */
class CpuWindow {
  private srv = 0;
  private client = 0;
  private all = 0;
  private t = 0;
  private secs = NaN;
  private srvCores = NaN;
  private clientCores = NaN;
  private allCores = NaN;

  constructor(private readonly pids: () => number[], private readonly clientCpu: (() => number) | null) {}

  readonly onWindow = (edge: 'open' | 'close'): void => {
    if (edge === 'open') {
      this.srv = cpuSecondsOf(this.pids());
      this.client = this.clientCpu ? this.clientCpu() : 0;
      this.all = machineBusySeconds();
      this.t = now();
    } else if (this.t > 0 && !Number.isFinite(this.secs)) {
      this.secs = (now() - this.t) / 1000;
      this.srvCores = (cpuSecondsOf(this.pids()) - this.srv) / this.secs;
      if (this.clientCpu) this.clientCores = (this.clientCpu() - this.client) / this.secs;
      this.allCores = (machineBusySeconds() - this.all) / this.secs;
    }
  };

  /** The three figures; `clientCpuSec`: a separate client process's CPU seconds over the window. */
  finish(clientCpuSec?: number): { serverCores: number; clientCores: number; otherCores: number } {
    const clientCores = clientCpuSec === undefined ? this.clientCores : clientCpuSec / this.secs;
    return { serverCores: this.srvCores, clientCores, otherCores: Math.max(0, this.allCores - this.srvCores - clientCores) };
  }
}

/**
 * The id of client slot `i` of a system: its rows, warm-up and preload take the same
 * clients by slot (ConnectOptions.keep), as an application keeps its clients.
 */
function clientSlot(sys: BenchSystem, i: number): string {
  return `bench${process.pid}-${sys.name}-${i}`;
}

/** A row driven from this process: kvslib clients for RaftKV, bench/etcd-target.ts's for etcd. */
async function runRow(sys: BenchSystem, op: OpKind, concurrency: number, o: BenchOptions): Promise<RowResult> {
  const seq = rowSeq++;
  const spread = await clientSpread(sys, concurrency, o);
  const targets: Target[] = [];
  try {
    const opened = await Promise.allSettled(spread.members.map((m, i) => sys.connect({
      clientId: clientSlot(sys, i),
      keep: true,
      memberId: m,
      attemptTimeoutMs: o.attemptTimeoutMs,
      opTimeoutMs: o.opTimeoutMs,
    })));
    for (const r of opened) if (r.status === 'fulfilled') targets.push(r.value);
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const cpu = new CpuWindow(() => sys.pids(), () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; });
    const res = await runClosedLoop({ op, targets, concurrency, keys: o.keys, valueBytes: o.valueBytes, warmupMs: o.warmupMs, durationMs: o.durationMs, seed: seq + 1, onWindow: cpu.onWindow });
    const traceBacklogMs = sys.settle ? await sys.settle() : undefined;
    return {
      system: sys.kind === 'etcd' ? `${sys.name}/node` : sys.name,
      kind: sys.kind,
      driver: 'node',
      servers: sys.members.length,
      traced: sys.name.includes('+trace'),
      ...counts(op, concurrency, spread.label, res),
      ...res.latency,
      ...cpu.finish(),
      ...(traceBacklogMs === undefined ? {} : { traceBacklogMs }),
    };
  } finally {
    await Promise.allSettled(targets.map((t) => t.close()));
  }
}

/** The fields every row takes from its load, whichever client program drove it. */
function counts(op: OpKind, concurrency: number, clients: string, res: { ops: number; errors: number; firstError?: string; windowMs: number; opsPerSec: number }) {
  return {
    op,
    concurrency,
    clients,
    ops: res.ops,
    errors: res.errors,
    ...(res.firstError ? { firstError: res.firstError } : {}),
    windowMs: res.windowMs,
    opsPerSec: res.opsPerSec,
  };
}

/**
 * A row on etcd driven by etcd's own Go client: the load generator `bin`, a process of its
 * own, with the same clients (one per `workersPerClient` workers, spread as runRow's), keys,
 * values and window; its CPU is its own getrusage over the window.
 */
async function runGoRow(sys: EtcdSystem, bin: string, op: OpKind, concurrency: number, o: BenchOptions): Promise<RowResult> {
  const seq = rowSeq++;
  const spread = await clientSpread(sys, concurrency, o);
  // The load generator pins client i to endpoints[i % n]: pass the members in client order.
  const endpoints = spread.members.map((m) => sys.clientAddr(m));
  const cpu = new CpuWindow(() => sys.pids(), null);
  const res = await runGoLoad(bin, {
    endpoints,
    clients: spread.members.length,
    concurrency,
    op,
    warmupMs: o.warmupMs,
    durationMs: o.durationMs,
    keys: o.keys,
    valueBytes: o.valueBytes,
    seed: seq + 1,
    opTimeoutMs: o.opTimeoutMs,
    dialTimeoutMs: o.attemptTimeoutMs * 5,
  }, cpu.onWindow);
  return {
    system: `${sys.name}/go`,
    kind: 'etcd',
    driver: 'go',
    servers: sys.members.length,
    traced: false,
    ...counts(op, concurrency, spread.label, res),
    p50: latencyOf(res.p50),
    p90: latencyOf(res.p90),
    p99: latencyOf(res.p99),
    max: latencyOf(res.max),
    mean: latencyOf(res.mean),
    ...cpu.finish(res.cpuSec),
  };
}

/**
 * Without this, the first rows would measure RaftKV's JIT compiling its hot paths, a cost
 * etcd's native binary does not pay; seconds of unmeasured load first is what any JIT
 * benchmark does (systemWarmupMs). Puts then gets, at concurrency 64, on 4 clients.
 */
async function warmUpSystem(sys: BenchSystem, o: BenchOptions, ms: number): Promise<string> {
  const leader = await sys.leader();
  const order = spreadOrder(sys.members, leader);
  const targets: Target[] = [];
  const t0 = now();
  try {
    for (let i = 0; i < 4; i++) targets.push(await sys.connect({ clientId: clientSlot(sys, i), keep: true, memberId: order[i % order.length], attemptTimeoutMs: o.attemptTimeoutMs, opTimeoutMs: o.opTimeoutMs }));
    let ops = 0;
    for (const op of ['put', 'get'] as const) {
      const r = await runClosedLoop({ op, targets, concurrency: 64, keys: o.keys, valueBytes: o.valueBytes, warmupMs: 0, durationMs: ms / 2, seed: 999 });
      ops += r.ops;
    }
    const backlog = sys.settle ? await sys.settle() : 0;
    return `warmed up ${sys.name}: ${ops} puts and gets at concurrency 64 in ${((now() - t0) / 1000).toFixed(1)} s, not measured${backlog > 0 ? ` (then ${(backlog / 1000).toFixed(1)} s for its tracing server to catch up)` : ''}`;
  } finally {
    await Promise.allSettled(targets.map((t) => t.close()));
  }
}

async function preloadSystem(sys: BenchSystem, o: BenchOptions): Promise<string> {
  const leader = await sys.leader();
  const order = spreadOrder(sys.members, leader);
  const targets: Target[] = [];
  try {
    for (let i = 0; i < 4; i++) targets.push(await sys.connect({ clientId: clientSlot(sys, i), keep: true, memberId: order[i % order.length], attemptTimeoutMs: o.attemptTimeoutMs, opTimeoutMs: o.opTimeoutMs }));
    const r = await preload(targets, o.keys, o.valueBytes, 64, 120_000);
    if (sys.settle) await sys.settle();
    return `preloaded ${sys.name}: ${r.written}/${o.keys} keys in ${(r.ms / 1000).toFixed(1)} s (${((r.written * 1000) / r.ms).toFixed(0)} puts/s at concurrency 64)${r.errors ? `, ${r.errors} errors` : ''}`;
  } finally {
    await Promise.allSettled(targets.map((t) => t.close()));
  }
}

/** Runs the whole benchmark; every process it starts is stopped before it returns or throws. */
export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const t0 = now();
  const startedAt = new Date().toISOString();
  const log = o.log;
  const { notes, note } = noteTaker(log);
  const rows: RowResult[] = [];
  const failover: FailoverResult[] = [];
  const busyStart = await machineBusyCores(1000);
  if (busyStart > 0.3) {
    note(`${busyStart.toFixed(2)} cores were busy before the bench started: other processes are running, numbers will be noisy (the "other" cpu column shows them per row)`);
  }
  const dataFs = fsTypeOf(o.dataRoot);
  if (/^(tmpfs|ramfs)$/.test(dataFs)) note(`data root ${o.dataRoot} is on ${dataFs}: fsync costs nothing there, so write numbers are not durable-write numbers (use --data-root on a disk)`);

  let etcdVersion: string | null = null;
  let etcdBin: string | null = null;
  let etcdNote: string;
  const found = findEtcd();
  if (!o.etcd) etcdNote = 'etcd rows skipped (--no-etcd)';
  else if (found.bin === null) etcdNote = `etcd rows skipped: ${found.reason}. To compare with etcd: ${ETCD_INSTALL_HINT}`;
  else {
    etcdBin = found.bin;
    etcdVersion = found.version;
    etcdNote = `etcd ${found.version} (${found.bin})`;
  }
  log(`etcd: ${etcdNote}`);
  // The Go load generator: built (or found in its cache) before any cluster starts.
  let loadgen: GoLoadgen | null = null;
  let goNote: string;
  if (!etcdBin) goNote = 'etcd rows driven by the Go client skipped: no etcd';
  else if (!o.etcdClients.includes('go')) goNote = 'etcd rows driven by the Go client skipped (--etcd-clients)';
  else {
    const b = await buildLoadgen(o.dataRoot, log);
    if (b.bin === null) goNote = `etcd rows driven by the Go client skipped: ${b.reason}. To get them: ${GO_LOADGEN_INSTALL_HINT}`;
    else {
      loadgen = b;
      goNote = `etcd's Go client (clientv3 ${b.clientVersion}, ${b.goVersion}) in a separate process: ${b.built ? `built in ${(b.buildMs / 1000).toFixed(1)} s` : 'cached build'}, ${b.bin}`;
    }
  }
  if (loadgen) log(`etcd go client: ${goNote}`);
  else if (etcdBin && o.etcdClients.includes('go')) note(goNote);
  else log(`etcd go client: ${goNote}`);
  const nodeEtcd = etcdBin !== null && o.etcdClients.includes('node');
  log(`tracing row: ${o.traceServer ? 'on' : 'skipped'} - ${o.traceNote}`);
  log(`settings: ${o.quick ? 'QUICK, ' : ''}${o.durationMs / 1000}s rows after ${o.warmupMs / 1000}s warmup, ${o.keys} keys, ${o.valueBytes}-byte values, concurrency ${o.concurrency.join('/')}, ${o.workersPerClient} workers per client, sizes ${o.servers.join('/')}, data on ${dataFs} (${o.dataRoot}), ${os.cpus().length} cpus`);
  const rowsPerSize = (first: boolean) => o.ops.length * o.concurrency.length * (1 + (loadgen ? 1 : 0) + (first && nodeEtcd ? 1 : 0)) + (first && o.traceServer && o.ops.includes('put') ? o.concurrency.length : 0);
  const nRows = o.servers.reduce((sum, _, i) => sum + rowsPerSize(i === 0), 0);
  const rowsSec = (nRows * (o.warmupMs + o.durationMs)) / 1000;
  log(`rows: ${nRows} of ${(o.warmupMs + o.durationMs) / 1000} s each (${rowsSec < 120 ? `${rowsSec.toFixed(0)} s` : `${(rowsSec / 60).toFixed(1)} min`}), plus cluster starts, ${o.preload ? 'preloads, ' : ''}${systemWarmupMs(o) / 1000} s warm-ups of each system${o.failoverRepeats > 0 ? ' and failover' : ''}`);
  log(`systems: raftkv-N = RaftKV (kvslib clients in this process); etcd-N/go = etcd driven by etcd's own Go client (bench/etcd/loadgen, a process of its own); etcd-N/node = etcd driven from this process (a unary gRPC call per op; first size only)`);
  log(`clients column: how a row's clients were spread (F = talks to a follower, which forwards to the leader; L = talks to the leader)`);
  log(`cpu columns: cores busy during the row: the cluster's processes / the client process (this bench process, or the Go load generator) / everything else; the machine has ${os.cpus().length}`);

  const serverEnv = (label: string): NodeJS.ProcessEnv | undefined => {
    if (!o.cpuProfDir) return undefined;
    const dir = path.join(o.cpuProfDir, label);
    mkdirSync(dir, { recursive: true });
    const preload = pathToFileURL(path.join(BENCH_DIR, 'cpu-prof.mjs')).href;
    return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${preload}`.trim(), BENCH_CPU_PROF_DIR: dir };
  };
  if (o.cpuProfDir) log(`cpu profiles of RaftKV servers: ${o.cpuProfDir}/<cluster>/*.cpuprofile (written when they stop)`);
  const systems: BenchSystem[] = [];
  const started = async <T extends BenchSystem>(p: Promise<T>): Promise<T> => {
    const s = await p;
    systems.push(s);
    return s;
  };
  const stopSystem = async (s: BenchSystem) => {
    systems.splice(systems.indexOf(s), 1);
    await s.stop();
  };
  const printRow = (r: RowResult) => {
    log(line(ROW_COLUMNS, r));
    if (r.errors) log(`    ${r.errors} errors in ${r.system} ${r.op} c=${r.concurrency}; first: ${r.firstError}`);
  };

  try {
    // One size at a time: RaftKV and etcd of that size side by side, rows alternating so
    // noise hits both. The first size also gets the Node-driven etcd rows, the traced
    // rows and failover.
    for (const [i, n] of o.servers.entries()) {
      if (wasInterrupted()) throw new Error('interrupted');
      const first = i === 0;
      const ts = now();
      const raftkv = await started(startRaftkv({ servers: n, root: o.dataRoot, env: serverEnv(`raftkv-${n}`) }));
      if (!first) log('');
      log(`started ${raftkv.name} in ${((now() - ts) / 1000).toFixed(1)} s (leader ${await raftkv.leader()})`);
      let etcd: EtcdSystem | null = null;
      if (etcdBin && (loadgen || (first && nodeEtcd))) {
        const te = now();
        etcd = await started(startEtcd(etcdBin, n, o.dataRoot));
        log(`started ${etcd.name} in ${((now() - te) / 1000).toFixed(1)} s (leader ${await etcd.leader()})`);
      }
      let traced: BenchSystem | null = null;
      if (first && o.traceServer) {
        try {
          traced = await started(startRaftkv({ servers: n, root: o.dataRoot, traceServer: o.traceServer, env: serverEnv(`raftkv-${n}-trace`) }));
          log(`started ${traced.name}`);
        } catch (err) {
          note(`traced row skipped: ${(err as Error).message}`);
        }
      } else if (first) {
        note(`traced put row skipped: ${o.traceNote}`);
      }
      if (o.preload) for (const s of [raftkv, etcd, traced]) if (s) log(await preloadSystem(s, o));
      else if (first && o.ops.includes('get')) note('no preload: get rows read keys that the warm-up and earlier put rows may or may not have written');
      for (const s of [raftkv, etcd, traced]) if (s) log(await warmUpSystem(s, o, systemWarmupMs(o)));

      log('');
      log(header(ROW_COLUMNS));
      let pair = 0;
      for (const op of o.ops) {
        for (const c of o.concurrency) {
          const group: (() => Promise<RowResult>)[] = [() => runRow(raftkv, op, c, o)];
          if (etcd && loadgen) group.push(() => runGoRow(etcd, loadgen.bin, op, c, o));
          if (etcd && first && nodeEtcd) group.push(() => runRow(etcd, op, c, o));
          if (traced && op === 'put') group.push(() => runRow(traced, op, c, o));
          // Rotate who goes first, so no system always runs right after another.
          const k = pair++ % group.length;
          for (const run of [...group.slice(k), ...group.slice(0, k)]) {
            if (wasInterrupted()) throw new Error('interrupted');
            const r = await run();
            rows.push(r);
            printRow(r);
          }
        }
      }

      if (first && o.failoverRepeats > 0) {
        log('');
        log(`failover: kill -9 the leader under ${o.failoverConcurrency} closed-loop put workers (one client per server in this process, attemptTimeoutMs ${o.failoverAttemptTimeoutMs}), ${o.failoverRepeats}x per system`);
        for (const s of [raftkv, etcd]) {
          if (!s) continue;
          failover.push(await runFailover(s, {
            repeats: o.failoverRepeats,
            concurrency: o.failoverConcurrency,
            keys: o.keys,
            valueBytes: o.valueBytes,
            attemptTimeoutMs: o.failoverAttemptTimeoutMs,
            opTimeoutMs: o.opTimeoutMs,
            beforeKillMs: o.quick ? 700 : 1500,
            minAfterKillMs: o.quick ? 1500 : 3000,
            maxAfterKillMs: 20_000,
            clientPrefix: `bench${process.pid}-fo-${s.name}`,
            log,
          }));
        }
      }
      for (const s of [traced, etcd, raftkv]) if (s) await stopSystem(s);
    }
  } finally {
    for (const s of [...systems].reverse()) await s.stop().catch((err: Error) => log(`error stopping ${s.name}: ${err.message}`));
  }

  const comparisons: Comparison[] = [];
  const traceCost: TraceCost[] = [];
  for (const driver of ['go', 'node'] as const) {
    for (const n of o.servers) {
      for (const op of o.ops) {
        for (const c of o.concurrency) {
          const find = (pred: (r: RowResult) => boolean) => rows.find((r) => r.servers === n && r.op === op && r.concurrency === c && pred(r));
          const rk = find((r) => r.kind === 'raftkv' && !r.traced);
          const et = find((r) => r.kind === 'etcd' && r.driver === driver);
          if (rk && et) comparisons.push({ servers: n, op, concurrency: c, driver, raftkv: rk, etcd: et });
        }
      }
    }
  }
  for (const c of o.concurrency) {
    const find = (pred: (r: RowResult) => boolean) => rows.find((r) => r.servers === o.servers[0] && r.op === 'put' && r.concurrency === c && r.kind === 'raftkv' && pred(r));
    const off = find((r) => !r.traced);
    const on = find((r) => r.traced);
    if (off && on) traceCost.push({ concurrency: c, off, on });
  }
  const finishedAt = new Date().toISOString();
  return {
    startedAt,
    finishedAt,
    elapsedSec: (now() - t0) / 1000,
    host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}`, dataRoot: o.dataRoot, dataFs, busyCoresBeforeStart: busyStart },
    settings: { ...o, traceServer: o.traceServer !== null, log: undefined } as BenchReport['settings'],
    etcd: {
      version: etcdVersion,
      note: etcdNote,
      goClient: loadgen ? { goVersion: loadgen.goVersion, clientVersion: loadgen.clientVersion, bin: loadgen.bin, buildMs: loadgen.buildMs, cached: !loadgen.built } : null,
      goNote,
    },
    tracing: { enabled: traceCost.length > 0, note: o.traceNote },
    rows,
    comparisons,
    traceCost,
    failover,
    notes,
  };
}

function printReport(r: BenchReport, log: (l: string) => void): void {
  log('');
  log(`==== RaftKV benchmark (${r.settings.quick ? 'quick' : 'full'}; ${r.host.cpus} cpus, ${r.host.node}, data on ${r.host.dataFs}; ${r.elapsedSec.toFixed(0)} s; ${r.host.busyCoresBeforeStart.toFixed(2)} cores busy before start) ====`);
  log('');
  log(table(ROW_COLUMNS, r.rows));
  const go = r.comparisons.filter((c) => c.driver === 'go');
  const node = r.comparisons.filter((c) => c.driver === 'node');
  log('');
  if (go.length) {
    log(`RaftKV vs ${r.etcd.note} driven by etcd's own Go client in a process of its own - the main comparison (ratio > 1: RaftKV has more throughput / higher latency)`);
    log(table(COMPARISON_COLUMNS, go));
  } else {
    log(`etcd comparison (Go client): ${r.etcd.version ? r.etcd.goNote : r.etcd.note}`);
  }
  if (node.length) {
    log('');
    log(`Second figure: the same RaftKV rows vs etcd driven from this Node process (one unary gRPC call per op; the client shares the cores with etcd, which flatters RaftKV)`);
    log(table(COMPARISON_COLUMNS, node));
  }
  log('');
  if (r.traceCost.length) {
    log('Cost of tracing (RaftKV put rows, tracing on vs off; backlog = time the tracing server needed after the row to take in the rest; sustained = ops over row + backlog)');
    log(table(TRACE_COLUMNS, r.traceCost));
  } else {
    log(`Cost of tracing: skipped - ${r.tracing.note}`);
  }
  if (r.failover.length) {
    log('');
    log(`Failover (kill -9 the leader under ${r.settings.failoverConcurrency} put workers, attemptTimeoutMs ${r.settings.failoverAttemptTimeoutMs}; gap = longest time without a successful put)`);
    log(table(FAILOVER_COLUMNS, r.failover));
  }
}

async function main(): Promise<number> {
  installCleanupHandlers();
  let parsed: ParsedOptions | null;
  try {
    parsed = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (!parsed) return 0;
  if (parsed.mode === 'growth') return mainGrowth(parsed.o);
  const o = parsed.o;
  const report = await runBench(o);
  printReport(report, o.log);
  const out = o.out ?? path.join(BENCH_DIR, 'results', `bench-${report.startedAt.replace(/[:.]/g, '-')}${o.quick ? '-quick' : ''}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  o.log(`\nresults: ${path.relative(process.cwd(), out) || out}`);
  return 0;
}

async function mainGrowth(o: GrowthOptions): Promise<number> {
  const report = await runGrowth(o);
  printGrowthReport(report, o.log);
  const out = o.out ?? path.join(BENCH_DIR, 'results', growthResultName(report));
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  o.log(`\nresults: ${path.relative(process.cwd(), out) || out}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`bench: ${wasInterrupted() ? 'interrupted' : `error: ${err.stack ?? err.message}`}`);
      process.exit(wasInterrupted() ? 130 : 1);
    },
  );
}
