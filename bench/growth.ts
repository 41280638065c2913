/**
 * Growth benchmark (`npm run bench -- --growth`): how a RaftKV cluster ages as its log
 * grows. One cluster of real server processes (fsynced NeDB storage in a temp dir,
 * tracing off) takes closed-loop puts over a fixed key set in cumulative stages (by
 * default 10k, then up to 100k, then up to 1M puts in all). After each stage it reports
 * each server's memory (RSS) and data size on disk and the stage's throughput, then
 * kills every server with SIGKILL, restarts them on the same data and measures the time
 * from the kill to the first acknowledged put; the next stage writes on the restarted
 * cluster.
 *
 * The targets (README): after 1M puts, RSS <= 250 MB per server and kill-to-first-put
 * <= 3 s (as after 10k), put throughput within 10% of today's. They are printed as a
 * check, never asserted: benchmarks are not tests.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvClient } from '../src/client/kv-client.ts';
import { ProcessCluster } from '../src/cluster/process-cluster.ts';
import { defaultConfig, writeConfig, type ClusterConfig } from '../src/server/config.ts';
import { logTails, StartGuard, wasInterrupted } from './cleanup.ts';
import { freePorts, noteTaker, spreadOrder } from './system.ts';
import { table, type Column } from './table.ts';
import { keyName, makeValue, now, sleep } from './workload.ts';

/** The targets for the last (largest) stage. */
export const GROWTH_TARGETS = { maxRssMB: 250, maxKillToFirstPutMs: 3000, minThroughputRatio: 0.9 } as const;

export const GROWTH_DEFAULT_STAGES = [10_000, 100_000, 1_000_000];
export const GROWTH_QUICK_STAGES = [2_000, 10_000];

/** Settings of one growth run. Times in ms, sizes in bytes or MB as named. */
export interface GrowthOptions {
  quick: boolean;
  /** Cluster size (default 3). */
  servers: number;
  /** Cumulative acknowledged-put totals after which to measure, strictly increasing. */
  stages: number[];
  /** Size of the fixed key set; put number n (counting from 0 over the whole run) writes key n % keys. */
  keys: number;
  /** Bytes per value. */
  valueBytes: number;
  /** Closed-loop put workers. */
  concurrency: number;
  /** Workers sharing one KvClient (clients spread over the members, first a follower). */
  workersPerClient: number;
  attemptTimeoutMs: number;
  opTimeoutMs: number;
  /** Wall-clock bound on one stage's writing; a stage that hits it is measured and ends the run. */
  stageLimitMs: number;
  /** Bound on kill-to-first-acknowledged-put; exceeding it is reported as a failed restart. */
  restartWaitMs: number;
  /** How long each restarted server may take to answer Status. */
  readyTimeoutMs: number;
  /** Writing stops (the stage is measured, the run ends) once a server's RSS exceeds this, in MB. */
  rssLimitMB: number;
  /** Progress line interval while writing. */
  progressEveryMs: number;
  /** Parent directory of the cluster's temp dir. */
  dataRoot: string;
  /** Filesystem type of dataRoot (for the report). */
  dataFs: string;
  /** An earlier growth JSON report to compare each stage with, or null. */
  baseline: string | null;
  /** JSON output file, or null for bench/results/growth-<time>.json. */
  out: string | null;
  log: (line: string) => void;
}

/** One server's numbers at a point in time. */
export interface ServerSample {
  id: string;
  pid: number | null;
  /** Resident set size (VmRSS), MB; NaN if the process is not running. */
  rssMB: number;
}

/** What a restart (kill -9 of every server, start on the same data) measured. */
export interface RestartResult {
  /** A put was acknowledged within restartWaitMs of the kill. */
  ok: boolean;
  /** ms from the first SIGKILL to the first acknowledged put; null if none in time. */
  killToFirstPutMs: number | null;
  /** Put attempts the probe client made (each retried inside the client too). */
  attempts: number;
  error?: string;
  /** Per server: ms from the kill until it answered Status again (null: it did not in readyTimeoutMs). */
  readyMs: Record<string, number | null>;
  /** Per server, read right after the first put was acknowledged. */
  after: ServerSample[];
}

/** One stage: the writing up to `target` puts in all, then the measurements. */
export interface GrowthStage {
  /** Cumulative put total this stage writes up to. */
  target: number;
  /** Puts acknowledged in this stage. */
  puts: number;
  /** Puts acknowledged since the run started (the log holds about this many entries). */
  totalPuts: number;
  errors: number;
  firstError?: string;
  /** Wall time of the stage's writing, ms. */
  writeMs: number;
  /** puts / writeMs, in puts/s. */
  putsPerSec: number;
  /** Mean and maximum put latency in the stage, ms. */
  meanLatencyMs: number;
  maxLatencyMs: number;
  /** Why writing stopped before `target`, if it did. */
  cutShort?: 'time limit' | 'rss limit' | 'interrupted' | 'attempt limit';
  /** Per server, after the stage's writing, before the kill. */
  servers: (ServerSample & {
    /** Largest RSS sampled (every second) during the stage, MB. */
    peakRssMB: number;
    /** Sum of the sizes of all files under <dataDir>/<id>/, MB. */
    dataMB: number;
  })[];
  restart: RestartResult | null;
}

/** The JSON written to bench/results/growth-<time>.json. */
export interface GrowthReport {
  kind: 'growth';
  startedAt: string;
  finishedAt: string;
  elapsedSec: number;
  host: { cpus: number; cpuModel: string; memGiB: number; node: string; platform: string; dataRoot: string; dataFs: string; loadAvg1m: number };
  settings: Omit<GrowthOptions, 'log'>;
  targets: typeof GROWTH_TARGETS;
  stages: GrowthStage[];
  /** Stages of the baseline report (if given) with the same target, for comparison. */
  baseline: { file: string; stages: GrowthStage[] } | null;
  notes: string[];
}

// ------------------------------------------------------------------ options

/** parseArgs option specs of the growth mode (merged into bench/run.ts's). */
export const GROWTH_ARG_SPECS = {
  growth: { type: 'boolean', default: false },
  'growth-stages': { type: 'string' },
  'growth-keys': { type: 'string' },
  'growth-value-bytes': { type: 'string' },
  'growth-conc': { type: 'string' },
  'growth-stage-limit': { type: 'string' },
  'growth-restart-wait': { type: 'string' },
  'growth-rss-limit': { type: 'string' },
  'growth-baseline': { type: 'string' },
} as const;

export const GROWTH_USAGE = `  --growth                 growth benchmark instead of the rows: cumulative put stages on one
                           cluster; after each: RSS, data on disk, puts/s, kill -9 of all
                           servers -> first acknowledged put after restart
  --growth-stages A,B,C    cumulative put totals (default 10000,100000,1000000; quick 2000,10000)
  --growth-keys N          fixed key set, written round-robin (default 10000)
  --growth-value-bytes N   bytes per value (default 1024)
  --growth-conc N          closed-loop put workers (default 64)
  --growth-stage-limit S   max seconds of writing per stage (default 3600)
  --growth-restart-wait S  max seconds from the kill to the first put (default 60)
  --growth-rss-limit MB    stop writing once a server's RSS exceeds this (default 4096)
  --growth-baseline FILE   an earlier growth-*.json to compare each stage with
  (with --growth also: --quick, --servers N (default 3), --data-root, --out)`;

/** The parsed command-line values the growth mode reads (strings as typed). */
export interface GrowthArgs {
  quick: boolean;
  servers?: string;
  'data-root'?: string;
  out?: string;
  'growth-stages'?: string;
  'growth-keys'?: string;
  'growth-value-bytes'?: string;
  'growth-conc'?: string;
  'growth-stage-limit'?: string;
  'growth-restart-wait'?: string;
  'growth-rss-limit'?: string;
  'growth-baseline'?: string;
}

/** Validates the growth flags; throws an Error naming the bad one. */
export function growthOptions(a: GrowthArgs, dataFs: (dir: string) => string, log: (l: string) => void): GrowthOptions {
  const int = (s: string | undefined, d: number, what: string, min = 1): number => {
    if (s === undefined) return d;
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`${what}: expected an integer >= ${min} (got "${s}")`);
    return n;
  };
  const secs = (s: string | undefined, d: number, what: string): number => {
    if (s === undefined) return d * 1000;
    const n = Number(s);
    if (!Number.isFinite(n) || n <= 0 || n > 24 * 3600) throw new Error(`${what}: expected seconds in (0, 86400] (got "${s}")`);
    return n * 1000;
  };
  const stages = a['growth-stages'] === undefined ? (a.quick ? GROWTH_QUICK_STAGES : GROWTH_DEFAULT_STAGES) : a['growth-stages'].split(',').map((x) => int(x.trim(), 0, '--growth-stages'));
  for (let i = 1; i < stages.length; i++) {
    if (stages[i] <= stages[i - 1]) throw new Error(`--growth-stages: cumulative totals must increase (got ${stages.join(',')})`);
  }
  if (a.servers !== undefined && a.servers.includes(',')) throw new Error('--servers: --growth runs one cluster; give one size');
  const dataRoot = path.resolve(a['data-root'] ?? os.tmpdir());
  return {
    quick: a.quick,
    servers: int(a.servers, 3, '--servers'),
    stages,
    keys: int(a['growth-keys'], 10_000, '--growth-keys'),
    valueBytes: int(a['growth-value-bytes'], 1024, '--growth-value-bytes'),
    concurrency: int(a['growth-conc'], 64, '--growth-conc'),
    workersPerClient: 16,
    attemptTimeoutMs: 2000,
    opTimeoutMs: 10_000,
    stageLimitMs: secs(a['growth-stage-limit'], 3600, '--growth-stage-limit'),
    restartWaitMs: secs(a['growth-restart-wait'], 60, '--growth-restart-wait'),
    readyTimeoutMs: 120_000,
    rssLimitMB: int(a['growth-rss-limit'], 4096, '--growth-rss-limit'),
    progressEveryMs: 10_000,
    dataRoot,
    dataFs: dataFs(dataRoot),
    baseline: a['growth-baseline'] === undefined ? null : path.resolve(a['growth-baseline']),
    out: a.out ?? null,
    log,
  };
}

// ------------------------------------------------------------------ measurements

/** Resident set size of `pid` in MB (VmRSS from /proc/<pid>/status); NaN if unreadable. */
export function rssMB(pid: number | undefined | null): number {
  if (!pid) return NaN;
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Sum of the sizes (apparent, in bytes) of every file under `dir`, recursively; symlinks are not followed. */
export function dirBytes(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    else {
      try {
        total += lstatSync(p).size;
      } catch {
        // removed meanwhile (a compaction's temp file)
      }
    }
  }
  return total;
}

const MB = 1024 * 1024;

// ------------------------------------------------------------------ the cluster

interface GrowthCluster {
  config: ClusterConfig;
  pc: ProcessCluster;
  dir: string;
  /** Server pid by id (null while down). */
  pid(id: string): number | null;
  /** Data directory of one server: <dataDir>/<id>/. */
  serverDir(id: string): string;
  stop(): Promise<void>;
}

/** Starts `n` real server processes on free ports with their data in a fresh temp dir under `root`; tracing off. */
async function startCluster(n: number, root: string, readyTimeoutMs: number): Promise<GrowthCluster> {
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(path.join(root, `raftkv-growth-${n}-`));
  let pc: ProcessCluster | null = null;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (pc) await pc.stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  const guard = new StartGuard(stop);
  try {
    const ports = await freePorts(n);
    const base = defaultConfig(n, 0, path.join(dir, 'data'));
    const config: ClusterConfig = { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })), traceServer: null };
    const file = writeConfig(path.join(dir, 'cluster.json'), config);
    const cluster = new ProcessCluster(config, file, { readyTimeoutMs });
    pc = cluster;
    guard.track(() => cluster.ids.map((id) => cluster.pid(id)).filter((p): p is number => p !== undefined));
    await Promise.all(config.servers.map((s) => cluster.start(s.id)));
    await cluster.waitForLeader(15_000);
    return {
      config,
      pc: cluster,
      dir,
      pid: (id) => cluster.pid(id) ?? null,
      serverDir: (id) => path.join(config.dataDir, id),
      stop: () => guard.stop(),
    };
  } catch (err) {
    return guard.fail(err, path.join(dir, 'data', 'logs'));
  }
}

// ------------------------------------------------------------------ writing

interface WriteResult {
  puts: number;
  errors: number;
  firstError?: string;
  writeMs: number;
  latencySumMs: number;
  maxLatencyMs: number;
  peakRssMB: Record<string, number>;
  cutShort?: GrowthStage['cutShort'];
}

/**
 * Closed-loop puts until `count` more are acknowledged: `concurrency` workers, each
 * issuing its next put when the previous returns; put number `first + i` writes key
 * (first + i) % keys. Bounded by `stageLimitMs`, by 2 x count + 1000 attempts, by the RSS
 * limit and by Ctrl-C. Prints progress every `progressEveryMs`.
 */
async function writePuts(cl: GrowthCluster, o: GrowthOptions, stageNo: number, first: number, count: number): Promise<WriteResult> {
  const leader = await cl.pc.waitForLeader(30_000);
  const order = spreadOrder(cl.pc.ids, leader);
  const nClients = Math.ceil(o.concurrency / o.workersPerClient);
  const clients: KvClient[] = [];
  const peakRssMB: Record<string, number> = Object.fromEntries(cl.pc.ids.map((id) => [id, 0]));
  let acked = 0;
  let inFlight = 0;
  let attempts = 0;
  let seq = first;
  let errors = 0;
  let firstError: string | undefined;
  let latencySumMs = 0;
  let maxLatencyMs = 0;
  let cutShort: WriteResult['cutShort'];
  const maxAttempts = 2 * count + 1000;
  const t0 = now();
  const deadline = t0 + o.stageLimitMs;
  const timers: NodeJS.Timeout[] = [];
  try {
    for (let i = 0; i < nClients; i++) {
      clients.push(await KvClient.start({
        clientId: `growth${process.pid}-s${stageNo}-c${i}`,
        servers: cl.config.servers,
        serverId: order[i % order.length],
        attemptTimeoutMs: o.attemptTimeoutMs,
        opTimeoutMs: o.opTimeoutMs,
      }));
    }
    const sampleRss = () => {
      for (const id of cl.pc.ids) {
        const r = rssMB(cl.pid(id));
        if (r > peakRssMB[id]) peakRssMB[id] = r;
        if (r > o.rssLimitMB && !cutShort) cutShort = 'rss limit';
      }
    };
    sampleRss();
    timers.push(setInterval(sampleRss, 1000));
    let lastAcked = 0;
    let lastT = t0;
    timers.push(setInterval(() => {
      const t = now();
      const rate = ((acked - lastAcked) * 1000) / (t - lastT);
      lastAcked = acked;
      lastT = t;
      const rss = cl.pc.ids.map((id) => fmtMB(rssMB(cl.pid(id)))).join('/');
      o.log(`  ... ${fmtInt(first + acked)} puts in all (${fmtInt(acked)}/${fmtInt(count)} this stage) after ${((t - t0) / 1000).toFixed(0)} s; ${fmtInt(rate)} puts/s over the last ${((o.progressEveryMs) / 1000).toFixed(0)} s; RSS ${rss} MB${errors ? `; ${errors} errors` : ''}`);
    }, o.progressEveryMs));
    const worker = async (w: number): Promise<void> => {
      const client = clients[w % clients.length];
      const value = makeValue(o.valueBytes);
      for (;;) {
        if (acked + inFlight >= count) return;
        if (cutShort) return;
        if (wasInterrupted()) return void (cutShort = 'interrupted');
        if (now() >= deadline) return void (cutShort = 'time limit');
        if (attempts >= maxAttempts) return void (cutShort = 'attempt limit');
        attempts++;
        inFlight++;
        const key = keyName(seq++ % o.keys);
        const s = now();
        try {
          await client.put(key, value);
          const ms = now() - s;
          acked++;
          latencySumMs += ms;
          if (ms > maxLatencyMs) maxLatencyMs = ms;
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
          if (now() - s < 5) await sleep(10); // never spin on a fast-failing cluster
        } finally {
          inFlight--;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, count) }, (_, w) => worker(w)));
    sampleRss();
  } finally {
    timers.forEach(clearInterval);
    await Promise.allSettled(clients.map((c) => c.stop()));
  }
  return { puts: acked, errors, firstError, writeMs: now() - t0, latencySumMs, maxLatencyMs, peakRssMB, ...(cutShort && acked < count ? { cutShort } : {}) };
}

// ------------------------------------------------------------------ restart

/**
 * kill -9 every server at once (by pid), start them all again on their data, and measure
 * from the first SIGKILL to the first put a fresh client gets acknowledged (the client
 * retries until restartWaitMs has passed since the kill). Waits for every server to
 * answer Status (readyTimeoutMs) before returning, so the next stage starts on a whole cluster.
 */
async function killAndRestart(cl: GrowthCluster, o: GrowthOptions, stageNo: number): Promise<RestartResult> {
  const ids = cl.pc.ids;
  const readyMs: Record<string, number | null> = Object.fromEntries(ids.map((id) => [id, null]));
  const tKill = now();
  await Promise.all(ids.map((id) => cl.pc.kill(id, 'SIGKILL')));
  const startErrors: string[] = [];
  const starts = ids.map((id) =>
    cl.pc.start(id).then(
      () => void (readyMs[id] = now() - tKill),
      (err: Error) => void startErrors.push(`${id}: ${err.message}`),
    ),
  );
  const probe = await firstPut(cl, o, tKill, stageNo);
  const after = ids.map((id) => ({ id, pid: cl.pid(id), rssMB: rssMB(cl.pid(id)) }));
  await Promise.all(starts);
  const error = [probe.error, ...startErrors].filter(Boolean).join('; ');
  return {
    ok: probe.ms !== null,
    killToFirstPutMs: probe.ms,
    attempts: probe.attempts,
    ...(error ? { error } : {}),
    readyMs,
    after,
  };
}

/** A client that retries one put until it is acknowledged or `restartWaitMs` after `tKill` has passed. */
async function firstPut(cl: GrowthCluster, o: GrowthOptions, tKill: number, stageNo: number): Promise<{ ms: number | null; attempts: number; error?: string }> {
  const deadline = tKill + o.restartWaitMs;
  const value = makeValue(o.valueBytes);
  let client: KvClient | null = null;
  let attempts = 0;
  let lastError = 'no attempt made';
  try {
    while (now() < deadline && attempts < 100_000 && !wasInterrupted()) {
      const left = deadline - now();
      try {
        client ??= await KvClient.start({
          clientId: `growth${process.pid}-restart${stageNo}`,
          servers: cl.config.servers,
          attemptTimeoutMs: 1000,
          opTimeoutMs: o.opTimeoutMs,
          connectTimeoutMs: Math.max(100, Math.min(2000, left)),
        });
        attempts++;
        await client.execute({ type: 'put', key: keyName(0), value }, Math.max(300, Math.min(o.opTimeoutMs, deadline - now())));
        const ms = now() - tKill;
        return ms <= o.restartWaitMs ? { ms, attempts } : { ms: null, attempts, error: `first put acknowledged only after ${fmtInt(ms)} ms` };
      } catch (err) {
        lastError = (err as Error).message;
        await sleep(Math.min(50, Math.max(0, deadline - now())));
      }
    }
    return { ms: null, attempts, error: `no put acknowledged within ${fmtInt(o.restartWaitMs)} ms of the kill (last error: ${lastError})` };
  } finally {
    await client?.stop();
  }
}

// ------------------------------------------------------------------ the run

/**
 * Runs every stage on one cluster and returns the report; every process it started is
 * stopped (and its temp dir removed) before it returns or throws. A stage cut short
 * (time limit, RSS limit, Ctrl-C) or a failed restart is measured and ends the run.
 */
export async function runGrowth(o: GrowthOptions): Promise<GrowthReport> {
  const t0 = now();
  const startedAt = new Date().toISOString();
  const log = o.log;
  const { notes, note } = noteTaker(log);
  const stages: GrowthStage[] = [];
  const baseline = o.baseline ? loadBaseline(o.baseline) : null;
  const load = os.loadavg()[0];
  if (load > 0.5) note(`load average ${load.toFixed(2)} before the start: other processes are running, numbers will be noisy`);
  if (/^(tmpfs|ramfs)$/.test(o.dataFs)) note(`data root ${o.dataRoot} is on ${o.dataFs}: fsync costs nothing there (use --data-root on a disk)`);
  log(`growth: ${o.quick ? 'QUICK, ' : ''}${o.servers} servers, stages ${o.stages.map(fmtInt).join(' / ')} puts in all, ${fmtInt(o.keys)} keys round-robin, ${o.valueBytes}-byte values, ${o.concurrency} workers (${o.workersPerClient} per client), data on ${o.dataFs} (${o.dataRoot}), ${os.cpus().length} cpus`);
  log(`after each stage: RSS and data size per server, then kill -9 of every server, restart on the same data, ms to the first acknowledged put (bound ${o.restartWaitMs / 1000} s)`);

  const ts = now();
  const cl = await startCluster(o.servers, o.dataRoot, o.readyTimeoutMs);
  try {
    log(`started ${o.servers} servers in ${((now() - ts) / 1000).toFixed(1)} s (leader ${await cl.pc.waitForLeader()}; data in ${cl.dir})`);
    let total = 0;
    for (let i = 0; i < o.stages.length; i++) {
      if (wasInterrupted()) throw new Error('interrupted');
      const target = o.stages[i];
      log('');
      log(`stage ${i + 1}/${o.stages.length}: ${fmtInt(target - total)} puts, up to ${fmtInt(target)} in all`);
      const w = await writePuts(cl, o, i, total, target - total);
      total += w.puts;
      const stage: GrowthStage = {
        target,
        puts: w.puts,
        totalPuts: total,
        errors: w.errors,
        ...(w.firstError ? { firstError: w.firstError } : {}),
        writeMs: w.writeMs,
        putsPerSec: (w.puts * 1000) / w.writeMs,
        meanLatencyMs: w.puts ? w.latencySumMs / w.puts : NaN,
        maxLatencyMs: w.puts ? w.maxLatencyMs : NaN,
        ...(w.cutShort ? { cutShort: w.cutShort } : {}),
        servers: cl.pc.ids.map((id) => {
          const rss = rssMB(cl.pid(id));
          return { id, pid: cl.pid(id), rssMB: rss, peakRssMB: Math.max(w.peakRssMB[id] ?? 0, Number.isNaN(rss) ? 0 : rss), dataMB: dirBytes(cl.serverDir(id)) / MB };
        }),
        restart: null,
      };
      stages.push(stage);
      log(`  wrote ${fmtInt(w.puts)} puts in ${(w.writeMs / 1000).toFixed(1)} s: ${fmtInt(stage.putsPerSec)} puts/s, mean ${stage.meanLatencyMs.toFixed(1)} ms, max ${stage.maxLatencyMs.toFixed(0)} ms${w.errors ? `, ${w.errors} errors (first: ${w.firstError})` : ''}`);
      log(`  RSS ${stage.servers.map((s) => fmtMB(s.rssMB)).join('/')} MB (peak ${stage.servers.map((s) => fmtMB(s.peakRssMB)).join('/')}), data ${stage.servers.map((s) => fmtMB(s.dataMB)).join('/')} MB`);
      if (wasInterrupted()) throw new Error('interrupted');
      const r = await killAndRestart(cl, o, i);
      stage.restart = r;
      const ready = cl.pc.ids.map((id) => (r.readyMs[id] === null ? '-' : fmtInt(r.readyMs[id]!))).join('/');
      log(`  kill -9 all -> first put acknowledged: ${r.killToFirstPutMs === null ? 'FAILED' : `${fmtInt(r.killToFirstPutMs)} ms`} (${r.attempts} put attempt${r.attempts === 1 ? '' : 's'}); servers answered Status after ${ready} ms; RSS after ${r.after.map((s) => fmtMB(s.rssMB)).join('/')} MB${r.error ? `; ${r.error}` : ''}`);
      if (w.cutShort) {
        note(`stage ${fmtInt(target)} stopped at ${fmtInt(total)} puts in all (${w.cutShort}); later stages skipped`);
        break;
      }
      if (!r.ok) {
        note(`restart after ${fmtInt(total)} puts failed (${r.error}); later stages skipped`);
        break;
      }
      if (Object.values(r.readyMs).some((v) => v === null)) {
        note(`a server did not come back after ${fmtInt(total)} puts (${r.error}); later stages skipped`);
        break;
      }
    }
  } catch (err) {
    if (wasInterrupted()) throw err;
    note(`run ended early: ${(err as Error).message}\n${logTails(path.join(cl.dir, 'data', 'logs'))}`);
  } finally {
    await cl.stop().catch((err: Error) => log(`error stopping the cluster: ${err.message}`));
  }
  return {
    kind: 'growth',
    startedAt,
    finishedAt: new Date().toISOString(),
    elapsedSec: (now() - t0) / 1000,
    host: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}`, dataRoot: o.dataRoot, dataFs: o.dataFs, loadAvg1m: load },
    settings: { ...o, log: undefined } as GrowthReport['settings'],
    targets: GROWTH_TARGETS,
    stages,
    baseline: baseline ? { file: o.baseline!, stages: baseline.filter((b) => stages.some((s) => s.target === b.target)) } : null,
    notes,
  };
}

function loadBaseline(file: string): GrowthStage[] {
  let r: Partial<GrowthReport>;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as Partial<GrowthReport>;
  } catch (err) {
    throw new Error(`--growth-baseline ${file}: ${(err as Error).message}`);
  }
  if (r.kind !== 'growth' || !Array.isArray(r.stages)) throw new Error(`--growth-baseline ${file}: not a growth report`);
  return r.stages;
}

// ------------------------------------------------------------------ printing

function fmtInt(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-';
}
function fmtMB(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x < 10 ? x.toFixed(1) : x.toFixed(0);
}

/** Table columns for stages of a cluster of `n` servers (per-server values joined with "/"). */
export function growthColumns(n: number): Column<GrowthStage>[] {
  const w = (title: string) => Math.max(title.length, n * 5 - 1);
  return [
    { title: 'puts in all', width: 11, get: (s) => fmtInt(s.totalPuts) },
    { title: 'stage puts', width: 10, get: (s) => fmtInt(s.puts) },
    { title: 'puts/s', width: 7, get: (s) => fmtInt(s.putsPerSec) },
    { title: 'errors', width: 6, get: (s) => String(s.errors) },
    { title: 'RSS MB', width: w('RSS MB'), get: (s) => s.servers.map((x) => fmtMB(x.rssMB)).join('/') },
    { title: 'peak RSS MB', width: w('peak RSS MB'), get: (s) => s.servers.map((x) => fmtMB(x.peakRssMB)).join('/') },
    { title: 'disk MB', width: w('disk MB'), get: (s) => s.servers.map((x) => fmtMB(x.dataMB)).join('/') },
    { title: 'kill->put ms', width: 12, get: (s) => (s.restart === null ? '-' : s.restart.killToFirstPutMs === null ? 'FAILED' : fmtInt(s.restart.killToFirstPutMs)) },
    { title: 'RSS after restart', width: w('RSS after restart'), get: (s) => (s.restart === null ? '-' : s.restart.after.map((x) => fmtMB(x.rssMB)).join('/')) },
  ];
}

/** Prints the stage table, the baseline comparison (if any) and the project's targets (README) for the last stage. */
export function printGrowthReport(r: GrowthReport, log: (l: string) => void): void {
  const n = r.settings.servers;
  log('');
  log(`==== RaftKV growth benchmark (${r.settings.quick ? 'quick; ' : ''}${n} servers, ${fmtInt(r.settings.keys)} keys, ${r.settings.valueBytes}-byte values, ${r.settings.concurrency} workers; ${r.host.cpus} cpus, ${r.host.node}, data on ${r.host.dataFs}; ${r.elapsedSec.toFixed(0)} s; load ${r.host.loadAvg1m.toFixed(2)} at start) ====`);
  log('per-server values are joined with "/"; RSS = VmRSS after the stage; disk = files under <dataDir>/<id>/; kill->put = kill -9 of all servers to the first acknowledged put after restart');
  log('');
  log(table(growthColumns(n), r.stages));
  if (r.baseline) {
    log('');
    log(`compared with ${r.baseline.file}:`);
    const cols: Column<{ now: GrowthStage; then: GrowthStage }>[] = [
      { title: 'puts in all', width: 11, get: (c) => fmtInt(c.now.target) },
      { title: 'puts/s now/then', width: 16, get: (c) => `${fmtInt(c.now.putsPerSec)}/${fmtInt(c.then.putsPerSec)}` },
      { title: 'ratio', width: 5, get: (c) => (c.now.putsPerSec / c.then.putsPerSec).toFixed(2) },
      { title: 'max RSS now/then', width: 16, get: (c) => `${fmtMB(maxRss(c.now))}/${fmtMB(maxRss(c.then))}` },
      { title: 'kill->put ms now/then', width: 21, get: (c) => `${fmtInt(c.now.restart?.killToFirstPutMs ?? NaN)}/${fmtInt(c.then.restart?.killToFirstPutMs ?? NaN)}` },
    ];
    const pairs = r.stages.flatMap((s) => r.baseline!.stages.filter((b) => b.target === s.target).map((b) => ({ now: s, then: b })));
    log(pairs.length ? table(cols, pairs) : '  (no stage with the same target)');
  }
  const last = r.stages[r.stages.length - 1];
  if (last) {
    const t = r.targets;
    const rss = maxRss(last);
    const k = last.restart?.killToFirstPutMs ?? null;
    const ok = (b: boolean) => (b ? 'ok' : 'OVER');
    log('');
    log(`targets after ${fmtInt(last.totalPuts)} puts (the targets are for 1,000,000: RSS and restart as after 10,000): max RSS ${fmtMB(rss)} MB (<= ${t.maxRssMB}: ${ok(rss <= t.maxRssMB)}); kill->first put ${k === null ? 'FAILED' : `${fmtInt(k)} ms`} (<= ${t.maxKillToFirstPutMs}: ${ok(k !== null && k <= t.maxKillToFirstPutMs)}); ${fmtInt(last.putsPerSec)} puts/s = ${(last.putsPerSec / r.stages[0].putsPerSec).toFixed(2)}x the first stage's${r.baseline ? '' : ' (pass --growth-baseline to compare with an earlier run)'}`);
  }
  for (const s of r.notes) log(`note: ${s.split('\n')[0]}`);
}

function maxRss(s: GrowthStage): number {
  return Math.max(...s.servers.map((x) => x.rssMB));
}

/** Formats the JSON file name for a report: growth-<startedAt>[-quick].json. */
export function growthResultName(r: GrowthReport): string {
  return `growth-${r.startedAt.replace(/[:.]/g, '-')}${r.settings.quick ? '-quick' : ''}.json`;
}

