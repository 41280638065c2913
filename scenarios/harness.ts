import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCollector, type Collector } from '../tracing/collector.ts';
import { freePorts } from '../src/cluster/free-ports.ts';
import { ProcessCluster } from '../src/cluster/process-cluster.ts';
import { quorum } from '../src/raft/quorum.ts';
import { defaultConfig, writeConfig, type ClusterConfig } from '../src/server/config.ts';
import type { WireAdminResult } from '../src/transport/wire.ts';
import { RemoteClient } from './remote-client.ts';

const TRACES_DIR = fileURLToPath(new URL('../traces/', import.meta.url));

/** What a scenario's own steps establish, beside what the trace checkers find. */
interface Expectation {
  name: string;
  pass: boolean;
  detail: string;
}

/** Everything a scenario script may do to its cluster, and what it notes as it goes. */
export class ScenarioContext {
  readonly expectations: Expectation[] = [];
  private readonly clients: RemoteClient[] = [];
  /** Servers that joined during the run (not in the config file), by id: their addresses. */
  private readonly joined = new Map<string, string>();

  constructor(
    readonly cluster: ProcessCluster,
    readonly config: ClusterConfig,
    readonly collector: Collector,
    private readonly progress: (line: string) => void,
  ) {}

  get ids(): string[] {
    return this.config.servers.map((s) => s.id);
  }

  step(text: string): void {
    this.progress(text);
  }

  async start(...ids: string[]): Promise<void> {
    this.step(`start ${ids.join(', ')}`);
    await Promise.all(ids.map((id) => this.cluster.start(id)));
  }

  async kill(...ids: string[]): Promise<void> {
    this.step(`kill -9 ${ids.join(', ')}`);
    await Promise.all(ids.map((id) => this.cluster.kill(id)));
  }

  async leader(among?: string[], timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const statuses = (await this.cluster.statuses()).filter((s) => !among || among.includes(s.serverId));
      const leaders = statuses.filter((s) => s.role === 'leader').sort((a, b) => b.term - a.term);
      const top = leaders[0];
      if (top && statuses.filter((s) => s.leaderId === top.serverId && s.term === top.term).length >= quorum(this.ids.length)) {
        return top.serverId;
      }
      await sleep(50);
    }
    throw new Error(`no leader${among ? ` among ${among.join(', ')}` : ''} within ${timeoutMs} ms`);
  }

  /**
   * Adds `id` to the running cluster (Raft §6): `member add` on the leader (a learner,
   * promoted once caught up unless `learner`), then starts the server with `--join`.
   * Resolves with the leader's answer once the change is done (or refused).
   */
  async join(id: string, opts: { learner?: boolean } = {}): Promise<WireAdminResult> {
    const [port] = await freePorts(1);
    const addr = `127.0.0.1:${port}`;
    const leader = await this.leader();
    this.step(`member add ${id} ${addr}${opts.learner ? ' --learner' : ''}; start ${id} --join`);
    const added = this.cluster.adminOf(leader).memberAdd(id, addr, opts.learner ?? false, 60_000);
    // The learner's entry commits first: a member lists it before it can join.
    const deadline = Date.now() + 20_000;
    while (!(await this.cluster.adminOf(leader).memberList().then((l) => l.members.some((m) => m.id === id), () => false))) {
      if (Date.now() > deadline) throw new Error(`${id} was not listed as a member within 20 s`);
      await sleep(50);
    }
    this.joined.set(id, addr);
    this.cluster.addServer(id, addr);
    await this.cluster.start(id, { args: ['--join', this.config.servers.find((s) => s.id === leader)?.addr ?? this.joined.get(leader)!] });
    return added;
  }

  /** A machine lost for good: removes a stopped server's data directory. */
  deleteData(id: string): void {
    if (this.cluster.state(id) !== 'down') throw new Error(`${id} is running: stop it before deleting its data`);
    rmSync(path.join(this.config.dataDir, id), { recursive: true, force: true });
  }

  /** A client process connected to `serverId`; `only` keeps it from failing over. */
  async client(clientId: string, serverId: string, extra: { attemptTimeoutMs?: number; opTimeoutMs?: number; only?: boolean } = {}): Promise<RemoteClient> {
    const all = [...this.config.servers, ...[...this.joined].map(([id, addr]) => ({ id, addr }))];
    const c = await RemoteClient.start({
      clientId,
      servers: extra.only ? all.filter((s) => s.id === serverId) : all,
      // A client that can reach only this server must not learn the others' addresses.
      ...(extra.only ? { discoverMembers: false } : {}),
      serverId,
      traceServer: this.collector.addr,
      attemptTimeoutMs: extra.attemptTimeoutMs ?? 1000,
      opTimeoutMs: extra.opTimeoutMs ?? 20_000,
    });
    this.clients.push(c);
    return c;
  }

  expect(name: string, pass: boolean, detail: string): void {
    this.expectations.push({ name, pass, detail });
    if (!pass) this.progress(`expectation failed: ${name}: ${detail}`);
  }

  async stopClients(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop().catch(() => c.kill())));
  }
}

interface ScenarioRun {
  runDir: string;
  seconds: number;
  expectations: Expectation[];
  error?: string;
}

/**
 * Runs a scenario script against real processes: a tracing server writing
 * traces/<name>/ (or `tracesDir`/<name>/), `size` configured servers on free loopback ports with data in a temp
 * dir, and whatever clients the script starts. Every process is stopped at the end, also
 * when a step throws.
 */
export async function runScenarioScript(
  name: string,
  size: number,
  script: (ctx: ScenarioContext) => Promise<void>,
  progress: (line: string) => void,
  overrides: Partial<Pick<ClusterConfig, 'compaction'>> = {},
  tracesDir = TRACES_DIR,
): Promise<ScenarioRun> {
  const started = Date.now();
  const runDir = path.join(tracesDir, name);
  rmSync(runDir, { recursive: true, force: true });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `raftkv-${name}-`));
  const collector = await startCollector({ dir: runDir });
  const ports = await freePorts(size);
  const base = defaultConfig(size, 0, path.join(dataDir, 'data'));
  const config: ClusterConfig = {
    ...base,
    ...overrides,
    servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })),
    traceServer: collector.addr,
  };
  const file = writeConfig(path.join(dataDir, 'cluster.json'), config);
  writeFileSync(path.join(runDir, 'meta.json'), JSON.stringify({ scenario: name, servers: config.servers.map((s) => s.id) }, null, 1) + '\n');
  const cluster = new ProcessCluster(config, file, { logDir: path.join(runDir, 'logs') });
  const ctx = new ScenarioContext(cluster, config, collector, progress);
  let error: string | undefined;
  try {
    await script(ctx);
  } catch (err) {
    error = (err as Error).stack ?? String(err);
    progress(`step failed: ${(err as Error).message}`);
  } finally {
    await ctx.stopClients();
    await cluster.stopAll();
    await collector.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { runDir, seconds: (Date.now() - started) / 1000, expectations: ctx.expectations, ...(error ? { error } : {}) };
}


export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
