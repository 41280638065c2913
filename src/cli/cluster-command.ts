import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runName, type Collector } from '../../tracing/collector.ts';
import { CLUSTER_FILE } from '../cluster/cluster-file.ts';
import { SNAPSHOT_FILE } from '../storage/snapshot-file.ts';
import { clusterDown, controlRequest, findSupervisor } from '../cluster/supervisor-client.ts';
import { describeManaged, readSupervisorFile, show } from '../cluster/supervisor-file.ts';
import { membershipProblem } from '../cluster/stored-membership.ts';
import { Supervisor, clusterProblems } from '../cluster/supervisor.ts';
import { defaultConfig, loadConfig, writeConfig, type ClusterConfig } from '../server/config.ts';
import { DirInUseError, isAlive, lockDataDir, type DirLock } from '../server/data-dir-lock.ts';
import { startTraceServer } from './trace-server-command.ts';

/** A cluster command that could not do what it was asked; exit code 1, the message says why. */
export class ClusterCommandError extends Error {
  override name = 'ClusterCommandError';
}

/**
 * The config `cluster up` runs: `opts.config` when given; otherwise `opts.nodes` servers
 * from `opts.basePort`, with the other settings a person may have edited in the data
 * directory's cluster.json (compaction, memory, timing, ...) kept (`kept`: that file).
 * Throws ConfigError, naming the field, for a cluster.json there that is not valid, rather
 * than overwrite what someone wrote.
 */
export function upConfig(opts: { nodes: number; basePort: number; dataDir: string; config?: ClusterConfig }): { config: ClusterConfig; kept: boolean } {
  if (opts.config) return { config: opts.config, kept: false };
  const fresh = defaultConfig(opts.nodes, opts.basePort, opts.dataDir);
  const file = path.join(path.resolve(fresh.dataDir), 'cluster.json');
  if (!existsSync(file)) return { config: fresh, kept: false };
  const edited = loadConfig(file);
  return { config: { ...edited, servers: fresh.servers, dataDir: fresh.dataDir, traceServer: fresh.traceServer }, kept: true };
}

/**
 * `raftkv cluster up`: N server processes under a supervisor until Ctrl-C or `raftkv
 * cluster down`. Refuses, touching nothing, when a cluster (or any process) already holds
 * its data directory, a server's directory, or one of its ports.
 */
export async function clusterUp(opts: { nodes: number; basePort: number; dataDir: string; config?: ClusterConfig; trace: boolean }): Promise<void> {
  const { config: base, kept } = upConfig(opts);
  const dataDir = path.resolve(base.dataDir);
  const file = path.join(dataDir, 'cluster.json');
  const flag = file === path.resolve(CLUSTER_FILE) ? '' : ` --config ${show(file)}`;
  let lock: DirLock;
  try {
    lock = await lockDataDir(dataDir, 'raftkv cluster up');
  } catch (err) {
    if (!(err instanceof DirInUseError)) throw err;
    throw new ClusterCommandError(`${err.message}: a cluster is already running there; left untouched (stop it with: npx raftkv cluster down${flag})`);
  }
  const problems = await clusterProblems({ ...base, dataDir });
  const membership = membershipProblem(dataDir, base.servers);
  if (membership) problems.push(membership);
  if (problems.length > 0) {
    await lock.release();
    throw new ClusterCommandError(`cannot start the cluster, nothing was changed:\n  ${problems.join('\n  ')}`);
  }

  // Said once nothing can refuse the start any more (a second `cluster up` said it, then refused).
  if (kept) console.log(`raftkv: keeping the settings of ${show(file)} (timing, replication, compaction, memory); servers from the command line`);
  let collector: Collector | null = null;
  if (opts.trace) {
    collector = await startTraceServer({ dir: 'traces', run: runName('cluster-'), addr: '127.0.0.1:0', unique: true });
    // The configured servers (the founding voters), so `raftkv check` counts majorities
    // against them, as a scenario's meta.json lets it; and whether the servers start over
    // an earlier run's log, so it does not take every key to start absent.
    const existingData = base.servers.some((s) => holdsData(path.join(dataDir, s.id)));
    writeFileSync(path.join(collector.dir, 'meta.json'), JSON.stringify({ cluster: show(file), servers: base.servers.map((s) => s.id), existingData }, null, 1) + '\n');
  }
  if (collector && base.traceServer) {
    console.log(`raftkv: tracing to this cluster's own tracing server (${show(collector.dir)}), not the config's traceServer ${base.traceServer} (--no-trace keeps that one)`);
  }
  const config: ClusterConfig = { ...base, dataDir, traceServer: collector?.addr ?? base.traceServer };
  writeConfig(file, config);
  const sup = new Supervisor({
    config,
    configFile: file,
    log: (line) => console.log(line),
    alert: (line) => console.error(line),
    restartHint: (id, rejoinEmpty) => `npx raftkv cluster restart ${id}${rejoinEmpty ? ' --rejoin-empty' : ''}${flag}`,
  });
  let exitCode = 0;
  const finish = async (why: string) => {
    const summary = await sup.stopAll(why);
    await collector?.stop();
    await sup.closeControl();
    await lock.release();
    console.log(`${summary}${collector ? `; trace in ${collector.dir}` : ''}`);
    process.exit(exitCode);
  };
  void sup.whenStopping.then((why) => finish(why));
  process.on('SIGINT', () => void sup.stopAll('Ctrl-C'));
  process.on('SIGTERM', () => void sup.stopAll('SIGTERM'));
  process.on('SIGHUP', () => void sup.stopAll('SIGHUP (terminal closed)'));
  try {
    await sup.listen();
    console.log(`starting ${config.servers.length} servers (config: ${show(file)})`);
    await sup.startAll();
    for (const s of config.servers) {
      console.log(`  ${s.id.padEnd(10)} ${s.addr.padEnd(21)} pid ${String(sup.pid(s.id)).padEnd(8)} data ${show(path.join(dataDir, s.id))}`);
    }
    const leader = await sup.cluster.waitForLeader();
    console.log(`leader: ${leader}. Logs: ${show(path.join(dataDir, 'logs'))}. Try: npx raftkv put k1 v1${flag}`);
    if (collector) {
      console.log(`tracing to ${collector.dir} (open shiviz.log at https://bestchai.bitbucket.io/shiviz/)`);
      console.log(`  too many events for ShiViz? slice: npx raftkv trace slice ${collector.dir} --trace-id <clientId>:<opId> (raftkv trace --help)`);
    }
    console.log(
      `supervising (pid ${process.pid}): a server that dies is reported here. Ctrl-C or \`npx raftkv cluster down${flag}\` stops all; ` +
        `\`npx raftkv cluster restart|kill <id>${flag}\` acts on one.`,
    );
  } catch (err) {
    console.error(`cluster failed to start: ${(err as Error).message}`);
    exitCode = 1;
    void sup.stopAll('start-up failed');
  }
}

/** Whether a server directory holds a Raft log with entries, or a snapshot, from an earlier run. */
function holdsData(serverDir: string): boolean {
  const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
  return size(path.join(serverDir, 'log.db')) > 0 || existsSync(path.join(serverDir, SNAPSHOT_FILE));
}

/** `raftkv cluster down`: stops the cluster of this data directory, from any terminal. */
export async function runClusterDown(config: ClusterConfig): Promise<void> {
  for (const line of await clusterDown(config)) console.log(line);
}

/**
 * `raftkv cluster restart <id> [--rejoin-empty]` and `raftkv cluster kill <id>`: through the
 * running supervisor. `rejoinEmpty` (restart only): the server starts with --rejoin-empty.
 */
export async function runClusterAction(config: ClusterConfig, action: 'restart' | 'kill', id: string, opts: { rejoinEmpty?: boolean } = {}): Promise<void> {
  const sup = findSupervisor(config.dataDir);
  if (!sup?.record) {
    throw new ClusterCommandError(
      sup
        ? `the supervisor of ${show(config.dataDir)} (pid ${sup.pid}) is still starting; try again in a moment`
        : `no cluster supervisor is running for ${show(config.dataDir)} (start one with: npx raftkv cluster up; a server alone: npx raftkv node --id ${id})`,
    );
  }
  const reply = await controlRequest(sup.record, 'POST', `/${action}/${encodeURIComponent(id)}`, opts.rejoinEmpty ? { rejoinEmpty: true } : {}, 60_000).catch((err: Error) => {
    throw new ClusterCommandError(`${action} ${id}: ${err.message}`);
  });
  console.log(reply.message);
}

/**
 * The managed state of each server for `raftkv status`, when a supervisor runs (or ran)
 * this data directory: a column, and a line about the supervisor. Null without one.
 */
export function managedColumn(config: ClusterConfig): { header: string; cell(id: string): string; note: string } | null {
  const rec = readSupervisorFile(config.dataDir);
  if (!rec) return null;
  const alive = isAlive({ pid: rec.pid, start: rec.start });
  return {
    header: 'managed',
    cell: (id) => (alive ? describeManaged(rec.servers[id]) : 'no supervisor'),
    note: alive
      ? `supervisor: pid ${rec.pid} (raftkv cluster up), control ${rec.control}`
      : `supervisor pid ${rec.pid} is gone (killed?); \`npx raftkv cluster down\` stops what it left running`,
  };
}
