import * as grpc from '@grpc/grpc-js';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { TraceCollectorService } from '../../tracing/proto.ts';
import { KvClient } from '../client/kv-client.ts';
import { freePorts } from '../cluster/free-ports.ts';
import { ProcessCluster } from '../cluster/process-cluster.ts';
import { defaultConfig, writeConfig, type ClusterConfig } from '../server/config.ts';
import { AdminClient } from '../transport/admin-client.ts';
import { unary } from '../transport/unary.ts';
import { COMMANDS, parseCommand, usageOf } from './commands.ts';
import { Controller, errorText } from './controller.ts';
import type { ClusterControl, TraceInfo } from './deps.ts';
import { plainResult } from './format.ts';
import { Membership } from './membership.ts';

/**
 * The UI's two ways in: launch a local cluster (servers + tracing server) and stop it all
 * on the way out, or attach to a running one. Either way the screen is ink on a terminal,
 * or a plain line mode when stdin is not one.
 */

interface LaunchOptions {
  nodes: number;
  /** Servers keep their logs under <dataDir>/<serverId>/, process logs under <dataDir>/logs/. */
  dataDir: string;
  /** The tracing server writes <tracesDir>/<run>/. */
  tracesDir: string;
  run: string;
  /** Force the plain line mode even on a terminal. */
  plain?: boolean;
}

interface AttachOptions {
  config: ClusterConfig;
  configPath: string | null;
  plain?: boolean;
}

interface Session {
  controller: Controller;
  subtitle: string;
  /** Stops the client, the servers and the tracing server this session started; idempotent. */
  cleanup(): Promise<string[]>;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * One AdminClient per address, made on first use: the UI talks to the configured servers
 * and to members it learns of later, and every client is closed on the way out.
 */
class AdminPool {
  private readonly clients = new Map<string, AdminClient>();

  get(addr: string): AdminClient {
    let c = this.clients.get(addr);
    if (!c) {
      c = new AdminClient(addr);
      this.clients.set(addr, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** `npm start`: a local cluster on free ports, its tracing server, and the UI. Resolves with the exit code. */
export async function launchTui(opts: LaunchOptions): Promise<number> {
  const dataDir = path.resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  let collector: Collector | null = null;
  let cluster: ProcessCluster | null = null;
  const admins = new AdminPool();
  let stopping: Promise<string[]> | null = null;
  let controller: Controller | null = null;
  const cleanup = (): Promise<string[]> =>
    (stopping ??= (async () => {
      const notes: string[] = [];
      await controller?.close().catch(() => undefined);
      admins.close();
      if (cluster) {
        await cluster.stopAll().catch((err: unknown) => notes.push(`stopping servers: ${errorText(err)}`));
        notes.push(`stopped ${cluster.ids.length} servers (data and logs kept in ${rel(dataDir)})`);
      }
      if (collector) {
        await collector.stop().catch(() => undefined);
        notes.push(`stopped the tracing server; trace in ${rel(collector.dir)} (shiviz.log, trace.jsonl, history.json)`);
      }
      return notes;
    })());
  const unhook = hookSignals(cleanup);
  try {
    collector = await startCollector({ dir: path.join(opts.tracesDir, opts.run), addr: '127.0.0.1:0' });
    const ports = await freePorts(opts.nodes);
    const base = defaultConfig(opts.nodes, 0, dataDir);
    const config: ClusterConfig = { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })), traceServer: collector.addr };
    const file = writeConfig(path.join(dataDir, 'cluster.json'), config);
    log(`raftkv: starting ${opts.nodes} servers and a tracing server (config ${rel(file)}, traces ${rel(collector.dir)})`);
    cluster = new ProcessCluster(config, file);
    const c = cluster;
    await Promise.all(config.servers.map((s) => c.start(s.id)));
    const leader = await c.waitForLeader(15_000).catch(() => null);
    log(leader ? `raftkv: leader ${leader}` : 'raftkv: no leader yet (the UI shows when there is one)');
    const col = collector;
    controller = makeController(config, file, c, admins, async () => {
      col.flush();
      return { dir: rel(col.dir), addr: col.addr };
    });
    controller.notice(`started ${opts.nodes} servers: data and logs in ${rel(dataDir)}/, traces in ${rel(col.dir)}/`);
    return await runSession({ controller, subtitle: 'quit stops all', cleanup }, opts.plain);
  } catch (err) {
    log(`raftkv: ${errorText(err)}`);
    for (const note of await cleanup()) log(`raftkv: ${note}`);
    return 1;
  } finally {
    unhook();
  }
}

/** `raftkv tui`: the UI on a cluster that is already running (it stays running after quit). */
export async function attachTui(opts: AttachOptions): Promise<number> {
  const { config } = opts;
  const admins = new AdminPool();
  let stopping: Promise<string[]> | null = null;
  const controller = makeController(config, opts.configPath, null, admins, () => traceOf(config.traceServer));
  const cleanup = (): Promise<string[]> =>
    (stopping ??= (async () => {
      await controller.close().catch(() => undefined);
      admins.close();
      return ['the cluster keeps running'];
    })());
  const unhook = hookSignals(cleanup);
  try {
    log(`raftkv: attaching to ${config.servers.length} servers${opts.configPath ? ` (config ${rel(opts.configPath)})` : ' (default config)'}`);
    return await runSession({ controller, subtitle: opts.configPath ? rel(opts.configPath) : 'default config', cleanup }, opts.plain);
  } finally {
    unhook();
  }
}

function makeController(
  config: ClusterConfig,
  configPath: string | null,
  cluster: ClusterControl | null,
  admins: AdminPool,
  trace: () => Promise<Omit<TraceInfo, 'clientId'>>,
): Controller {
  const clientId = `tui-${process.pid}`;
  // The configured servers and every member a server reports: rows for members added
  // later are polled at the address the membership gives.
  const membership = new Membership(
    config.servers,
    (_id, addr) => admins.get(addr),
    () => controller.getSnapshot().leader?.id ?? null,
  );
  const controller: Controller = new Controller({
    servers: config.servers,
    cluster,
    configPath: configPath ? rel(configPath) : null,
    connect: () =>
      KvClient.start({
        clientId,
        servers: config.servers,
        attemptTimeoutMs: 1000,
        opTimeoutMs: 10_000,
        traceServer: config.traceServer ?? undefined,
      }),
    // Generous: a first call includes connecting, slow on a busy machine.
    status: async (id) => {
      const addr = membership.addressOf(id);
      if (addr === undefined) throw new Error(`the address of ${id} is unknown`);
      return admins.get(addr).status(1000);
    },
    members: () => membership.members(),
    admin: () => membership,
    trace: async () => ({ ...(await trace()), clientId }),
  });
  return controller;
}

/** Asks a running tracing server where it writes (its Flush RPC answers with the directory). */
async function traceOf(addr: string | null): Promise<Omit<TraceInfo, 'clientId'>> {
  if (!addr) return { dir: null, addr: null, note: 'start the cluster with "raftkv cluster up" to trace it' };
  const client = new TraceCollectorService(addr, grpc.credentials.createInsecure());
  try {
    const res = await unary<object, { dir: string; events: number }>(client, 'Flush', {}, 1500);
    return { dir: rel(res.dir), addr };
  } catch (err) {
    return { dir: null, addr, note: `not reachable (${(err as grpc.ServiceError).details || errorText(err)})` };
  } finally {
    client.close();
  }
}

/** Picks the screen: ink on a terminal, else the plain line mode. Resolves with the exit code. */
async function runSession(session: Session, plain = false): Promise<number> {
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  if (!tty || plain) {
    if (!plain) log('raftkv: stdin/stdout is not a terminal: plain line mode (one command per line; "help" lists them; end of input quits)');
    return runLineMode(session);
  }
  // ink renders only the last frame when it thinks it runs in CI (CI=true): on a real
  // terminal the user wants the live screen, so drop the flag before ink is first loaded.
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  const { runInk } = await import('./ink-screen.tsx');
  return runInk(session);
}

async function runLineMode({ controller, cleanup }: Session): Promise<number> {
  let printed = 0;
  let quit = false;
  const flush = () => {
    const { results } = controller.getSnapshot();
    const fresh = results.filter((e) => e.seq > printed && !e.pending);
    for (const e of fresh) {
      printed = Math.max(printed, e.seq);
      (e.kind === 'error' ? process.stderr : process.stdout).write(`${plainResult(e)}\n`);
    }
  };
  controller.startPolling(300);
  flush();
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) {
      const parsed = parseCommand(line, controller.serverIds);
      if (parsed?.ok && parsed.command.type === 'help') {
        process.stdout.write(`${helpText()}\n`);
        continue;
      }
      await controller.run(line);
      flush();
      if (parsed?.ok && parsed.command.type === 'quit') {
        quit = true;
        break;
      }
    }
  } finally {
    rl.close();
  }
  if (!quit) log('raftkv: end of input: quitting');
  for (const note of await cleanup()) log(`raftkv: ${note}`);
  return 0;
}

function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => usageOf(c.name).length)) + 2;
  return COMMANDS.map((c) => `  ${usageOf(c.name).padEnd(width)}${c.summary}${c.launchedOnly ? ' (a cluster this UI launched)' : ''}`).join('\n');
}

/**
 * Ctrl-C from outside raw mode, SIGTERM, SIGHUP (terminal closed): stop everything, then
 * exit. Once only: with the terminal gone every write fails, and an error raised while
 * stopping must not start another stop (each one logging, failing, and so on, unbounded).
 * A stop that hangs is cut short after 15 s.
 */
function hookSignals(cleanup: () => Promise<string[]>): () => void {
  let exiting = false;
  const exitAfterCleanup = (code: number, first?: string) => {
    if (exiting) return;
    exiting = true;
    setTimeout(() => process.exit(code), 15_000).unref();
    if (first !== undefined) safeLog(first);
    void cleanup().then(
      (notes) => {
        for (const n of notes) safeLog(`raftkv: ${n}`);
        process.exit(code);
      },
      () => process.exit(1),
    );
  };
  const onSignal = (signal: NodeJS.Signals) => exitAfterCleanup(signal === 'SIGINT' ? 130 : 143);
  const onFatal = (err: unknown) => exitAfterCleanup(1, `raftkv: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
  };
}

/** log() for a terminal that may be gone: a failed write is dropped, not thrown. */
function safeLog(line: string): void {
  try {
    log(line);
  } catch {
    // nobody to tell
  }
}

function rel(p: string): string {
  const r = path.relative(process.cwd(), path.resolve(p));
  return r === '' ? '.' : r.startsWith('..') ? path.resolve(p) : r;
}
