import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvClient } from '../client/kv-client.ts';
import { freePorts } from '../cluster/free-ports.ts';
import { ProcessCluster } from '../cluster/process-cluster.ts';
import { defaultConfig, writeConfig, type ClusterConfig } from '../server/config.ts';
import { injectedBug } from '../server/injected-bug.ts';
import type { HistoryEntry } from '../../tracing/history.ts';
import { readRunHistory } from '../../tracing/history-file.ts';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { ChaosClients, type ClientOpReport } from './clients.ts';
import { gradeRun, plural, type Grade } from './grade.ts';
import { Nemesis, type AppliedFault } from './nemesis.ts';
import { NetNamespaces } from './netns.ts';
import { recoveries, type Recovery } from './recovery.ts';
import { cleanLeftovers, RunStateFile } from './run-state.ts';
import { writeRunReport } from './report-hook.ts';
import { planSchedule, formatSchedule, type FaultKind, type PlannedFault } from './schedule.ts';
import { sleep, wallNow } from './time.ts';
import { isWrite } from './workload.ts';

export interface ChaosOptions {
  servers: number;
  /** Length of the faulty phase, ms. */
  durationMs: number;
  seed: number;
  kinds: readonly FaultKind[];
  clients: number;
  keys: number;
  trace: boolean;
  net: 'links' | 'namespaces';
  /** The run directory (history.json, chaos.json, logs/, and with --trace the trace files). */
  outDir: string;
  /** Each client pauses up to this long between operations, ms. */
  thinkMs?: number;
  /** Progress line period, ms. */
  progressMs?: number;
  /** Extra environment for the servers (tests: RAFTKV_INJECT_BUG). */
  serverEnv?: NodeJS.ProcessEnv;
}

/** Operation counts: acknowledged, failed for certain (nothing applied), outcome unknown. */
export interface OpCounts {
  ok: number;
  failed: number;
  unknown: number;
}

export interface ChaosResult {
  options: ChaosOptions;
  /** 'namespaces' only when they were made; else why not, and links were used. */
  net: { mode: 'links' | 'namespaces'; note?: string };
  schedule: PlannedFault[];
  applied: AppliedFault[];
  counts: OpCounts;
  recoveries: Recovery[];
  grade: Grade;
  /**
   * Servers that said their trace is incomplete (the tracing server was unreachable for
   * a while, e.g. at a restart under load), one line each; empty without --trace.
   */
  traceGaps: string[];
  /** The known bug the servers ran with on purpose (RAFTKV_INJECT_BUG), or null. */
  injectedBug: string | null;
  /** The run was cut short (Ctrl-C). */
  interrupted: boolean;
  seconds: number;
}

const OP_TIMEOUT_MS = 5000;
const RECOVERY_WAIT_MS = 15_000;

/**
 * One chaos run (docs/CHAOS.md): real server processes (in network namespaces with
 * `net: 'namespaces'`), client processes doing random conflicting operations, the seeded
 * nemesis injecting the schedule's faults; then heal, restart every server (kill -9,
 * start), wait for a leader, read every key, and grade the history (and the trace, with
 * `trace`). Every process it starts is stopped, and every namespace removed, also when
 * `signal` aborts or a step throws. Throws only when the cluster cannot be set up.
 */
export async function runChaos(opts: ChaosOptions, log: (line: string) => void, signal: AbortSignal): Promise<ChaosResult> {
  const started = wallNow();
  const runDir = path.resolve(opts.outDir);
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  for (const line of cleanLeftovers()) log(`cleaned up: ${line}`);
  const bug = injectedBug({ ...process.env, ...opts.serverEnv });
  if (bug) log(`RAFTKV_INJECT_BUG=${bug}: the servers run with a known bug, on purpose`);
  const schedule = planSchedule({ seed: opts.seed, durationMs: opts.durationMs, kinds: opts.kinds });
  log(`seed ${opts.seed}: ${plural(schedule.length, 'fault')} planned over ${(opts.durationMs / 1000).toFixed(0)} s (replay with --seed ${opts.seed}):\n${formatSchedule(schedule)}`);

  const ids = Array.from({ length: opts.servers }, (_, i) => `s${i + 1}`);
  // What this run makes, on disk while it runs: a run killed with SIGKILL is cleaned by the next.
  const state = new RunStateFile();
  let net: NetNamespaces | null = null;
  let netNote: string | undefined;
  if (opts.net === 'namespaces') {
    netNote = NetNamespaces.unavailable() ?? undefined;
    if (netNote === undefined) {
      try {
        net = await NetNamespaces.create(ids, (n) => state.update({ namespaces: n.namespaces, bridge: n.bridge }));
      } catch (err) {
        netNote = `could not make network namespaces: ${(err as Error).message}`;
      }
    }
    if (net) log(`network namespaces ${net.namespaceOf(ids[0])}..${net.namespaceOf(ids[ids.length - 1])} on bridge ${net.bridge} (10.213.${net.subnet}.0/24): cuts drop packets`);
    else log(`--net namespaces unavailable (${netNote}): cutting links in the servers instead`);
  }
  // Last resort on exit (an uncaught error, process.exit): nothing made here may outlive the run.
  const onExit = () => net?.teardownSync();
  process.on('exit', onExit);

  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chaos-'));
  state.update({ tempDirs: [dataDir] });
  let collector: Collector | null = null;
  let cluster: ProcessCluster | null = null;
  let clients: ChaosClients | null = null;
  // Faults are >= 500 ms apart, so a server (re)started is recorded before it can be paused.
  const recordPids = setInterval(() => {
    const pids = [...ids.map((id) => cluster?.pid(id)), ...(clients?.pids ?? [])].filter((p): p is number => p !== undefined);
    state.update({ pids });
  }, 100);
  const crashes: string[] = [];
  const history: HistoryEntry[] = [];
  const counts: OpCounts = { ok: 0, failed: 0, unknown: 0 };
  let applied: AppliedFault[] = [];
  let stuck: string | null = null;
  let runError: string | null = null;
  const finals = new Map<string, string>();
  const keys = Array.from({ length: opts.keys }, (_, i) => `k${i}`);
  try {
    const ports = await freePorts(ids.length);
    if (opts.trace) collector = await startCollector({ dir: runDir, addr: `${net ? net.hostAddress : '127.0.0.1'}:0` });
    const base = defaultConfig(ids.length, 0, path.join(dataDir, 'data'));
    const config: ClusterConfig = {
      ...base,
      servers: ids.map((id, i) => ({ id, addr: `${net ? net.addressOf(id) : '127.0.0.1'}:${ports[i]}` })),
      // Snapshots every few seconds under this load, and a server down for a fault falls
      // further behind than the log keeps: compaction and InstallSnapshot meet the faults too.
      compaction: { snapshotCount: 300, catchUpEntries: 50 },
      traceServer: collector?.addr ?? null,
    };
    const configFile = writeConfig(path.join(dataDir, 'cluster.json'), config);
    writeFileSync(path.join(runDir, 'meta.json'), JSON.stringify({ chaos: { seed: opts.seed, faults: opts.kinds, net: net ? 'namespaces' : 'links' }, servers: ids }, null, 1) + '\n');
    const theNet = net;
    cluster = new ProcessCluster(config, configFile, {
      logDir: path.join(runDir, 'logs'),
      ownProcessGroup: true,
      ...(opts.serverEnv ? { env: opts.serverEnv } : {}),
      ...(theNet ? { spawnPrefix: (id: string) => theNet.spawnPrefix(id) } : {}),
      onExit: (id, exit) => {
        if (!exit.requested) crashes.push(`${id} (pid ${exit.pid}) exited by itself: ${exit.signal ?? `code ${exit.code}`}; log ${path.relative(process.cwd(), exit.logFile)}`);
      },
    });
    const c = cluster;
    await Promise.all(ids.map((id) => c.start(id)));
    const firstLeader = await c.waitForLeader(20_000);
    log(`${ids.length} servers up (${config.servers.map((s) => s.addr).join(' ')}), leader ${firstLeader}`);

    try {
      // Clients.
      let lastAckedWrite = 0;
      const onOp = (r: ClientOpReport) => {
        history.push(r.entry);
        if (r.entry.error === undefined) counts.ok++;
        else if (r.errorKind === 'unknown') counts.unknown++;
        else counts.failed++;
        if (r.entry.error === undefined && isWrite(r.entry.op)) lastAckedWrite = Math.max(lastAckedWrite, r.entry.call);
      };
      clients = new ChaosClients(onOp, (line) => log(`  ${line}`));
      clients.start(
        Array.from({ length: opts.clients }, (_, i) => ({
          clientId: `c${i + 1}`,
          index: i,
          servers: config.servers,
          serverId: ids[i % ids.length],
          traceServer: collector?.addr ?? null,
          seed: (opts.seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0,
          keys: opts.keys,
          thinkMs: opts.thinkMs ?? 20,
          attemptTimeoutMs: 1000,
          opTimeoutMs: OP_TIMEOUT_MS,
        })),
      );
      const t0 = wallNow();
      const nemesis = new Nemesis(c, net, (line) => log(`+${((wallNow() - t0) / 1000).toFixed(1)}s ${line}`));
      const progress = setInterval(() => {
        log(`+${((wallNow() - t0) / 1000).toFixed(1)}s ops ok ${counts.ok} failed ${counts.failed} unknown ${counts.unknown}; servers ${ids.map((id) => `${id}:${c.state(id)}`).join(' ')}; fault ${nemesis.current ?? 'none'}`);
      }, opts.progressMs ?? 3000);
      try {
        applied = await nemesis.run(schedule, t0, signal);
        await sleep(t0 + opts.durationMs - wallNow(), signal);
      } finally {
        clearInterval(progress);
      }

      // Heal, then wait for the cluster to take writes again.
      const problems = await nemesis.healAll();
      for (const p of problems) log(`heal: ${p}`);
      const healedAt = wallNow();
      log(`+${((healedAt - t0) / 1000).toFixed(1)}s ${problems.length ? 'healed, with the problems above' : 'healed: all links restored, faults cleared, every server running'}`);
      while (!signal.aborted && lastAckedWrite < healedAt && wallNow() - healedAt < RECOVERY_WAIT_MS) await sleep(100, signal);
      if (lastAckedWrite < healedAt && !signal.aborted) stuck = `no write was acknowledged within ${RECOVERY_WAIT_MS / 1000} s after the final heal`;
      else if (!signal.aborted) log(`writes acknowledged again ${((lastAckedWrite - healedAt) / 1000).toFixed(1)} s after the heal (first called after it)`);
      await clients.stop(OP_TIMEOUT_MS + 3000);
      log(`clients stopped: ops ok ${counts.ok} failed ${counts.failed} unknown ${counts.unknown}`);

      if (!signal.aborted) {
        // Restart everything: every server crashes at once and comes back from its disk.
        log('restarting every server (kill -9, start)');
        await Promise.all(ids.map((id) => c.kill(id)));
        await Promise.all(ids.map((id) => c.start(id)));
        let leader: string | null = null;
        try {
          leader = await c.waitForLeader(20_000);
        } catch (err) {
          stuck = [stuck, `after the restart: ${(err as Error).message}`].filter(Boolean).join('; ');
        }
        if (leader) {
          log(`leader ${leader} after the restart; reading every key`);
          const readError = await finalReads(config, collector?.addr ?? null, keys, finals, history);
          if (readError) stuck = [stuck, readError].filter(Boolean).join('; ');
        }
      }
    } catch (err) {
      // A step of the run itself failed (a server that would not start again...): graded as a failure, with the seed.
      runError = (err as Error).message;
      log(`run step failed: ${runError}`);
    }
  } finally {
    clients?.killAll();
    await cluster?.stopAll().catch(() => undefined);
    await collector?.stop().catch(() => undefined);
    clearInterval(recordPids);
    net?.teardownSync();
    process.off('exit', onExit);
    rmSync(dataDir, { recursive: true, force: true });
    state.remove();
  }

  if (!opts.trace) writeFileSync(path.join(runDir, 'history.json'), JSON.stringify([...history].sort((a, b) => a.call - b.call), null, 0) + '\n');
  // Grade what the checker reads: with a trace, the tracing server's history.json (history.jsonl if it died).
  const graded = (opts.trace ? (readRunHistory(runDir)?.entries as HistoryEntry[] | undefined) : undefined) ?? history;
  const traceGaps = opts.trace ? incompleteTraces(path.join(runDir, 'logs')) : [];
  for (const g of traceGaps) log(`warning: ${g}: trace rules may report what the missing records would have explained`);
  const grade = signal.aborted
    ? { ok: false, checks: [], lost: [], violations: ['interrupted before the end: not graded'] }
    : gradeRun({ runDir, history: graded, finals, keys, traced: opts.trace, stuck, crashes, runError });
  const result: ChaosResult = {
    options: opts,
    net: { mode: net ? 'namespaces' : 'links', ...(netNote ? { note: netNote } : {}) },
    schedule,
    applied,
    counts,
    recoveries: recoveries(applied, graded),
    grade,
    traceGaps,
    injectedBug: bug,
    interrupted: signal.aborted,
    seconds: (wallNow() - started) / 1000,
  };
  const { traceReport, ...gradeForFile } = grade;
  writeFileSync(path.join(runDir, 'chaos.json'), JSON.stringify({ ...result, grade: gradeForFile }, null, 1) + '\n');
  if (!signal.aborted) await writeRunReport(runDir, log, traceReport, { checks: grade.checks, faults: applied });
  result.grade = gradeForFile;
  return result;
}

/**
 * Reads every key through a fresh client after the restart, retrying each for up to 10 s.
 * The reads go into the history (client "final"), so linearizability judges them too.
 * Returns why it failed, or null.
 */
async function finalReads(config: ClusterConfig, traceServer: string | null, keys: string[], finals: Map<string, string>, history: HistoryEntry[]): Promise<string | null> {
  let client: KvClient;
  try {
    client = await KvClient.start({ clientId: 'final', servers: config.servers, attemptTimeoutMs: 1000, opTimeoutMs: 10_000, connectTimeoutMs: 10_000, ...(traceServer ? { traceServer } : {}), onHistory: (e) => history.push(e) });
  } catch (err) {
    return `the final reader could not connect: ${(err as Error).message}`;
  }
  try {
    for (const key of keys) {
      const r = await client.get(key).catch((err: Error) => err);
      if (r instanceof Error) return `final read of ${key} failed: ${r.message}`;
      finals.set(key, r.value);
    }
    return null;
  } finally {
    await client.stop();
  }
}

/** The lines of the servers' logs where their tracing sink gave up on the tracing server for a while. */
function incompleteTraces(logDir: string): string[] {
  const gaps: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(logDir).filter((f) => f.endsWith('.log')).sort();
  } catch {
    return gaps;
  }
  for (const f of files) {
    for (const line of readFileSync(path.join(logDir, f), 'utf8').split('\n')) if (/its trace is incomplete/.test(line)) gaps.push(line.trim());
  }
  return gaps;
}
