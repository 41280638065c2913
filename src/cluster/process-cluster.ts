import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterConfig } from '../server/config.ts';
import { lastLines } from './last-lines.ts';
import { AdminClient } from '../transport/admin-client.ts';
import type { WireStatus } from '../transport/wire.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The `raftkv` command: it runs the prebuilt bundle when that is up to date with the
 * sources, which starts faster and takes less memory than the sources through tsx (which
 * it falls back to otherwise).
 */
const BIN = path.join(REPO, 'bin/raftkv.js');

type ServerState = 'down' | 'up' | 'paused';

interface Member {
  child: ChildProcess | null;
  state: ServerState;
  exited: Promise<void> | null;
  /** Set when kill() or stopAll() ends the running process: its exit was asked for. */
  stopRequested: boolean;
}

/** How a server process ended, as its parent saw it. */
export interface ServerExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** kill(), restart() or stopAll() ended it; false: it died by itself or by someone else's hand. */
  requested: boolean;
  /** Its output file. */
  logFile: string;
}

/**
 * Real server processes on this machine: start, kill (any signal), pause, resume,
 * restart, cut links, and stop them all. Every process is tracked by pid and stopped
 * by stopAll(), which callers run in `finally`.
 */
export class ProcessCluster {
  private readonly members = new Map<string, Member>();
  private readonly admins = new Map<string, AdminClient>();
  /**
   * The cut links in force, as `from>to` (messages from `from` to `to` are dropped), so a
   * server that was paused or down when they changed gets them too.
   */
  private cuts = new Set<string>();

  constructor(
    readonly config: ClusterConfig,
    /** The config file the child processes read (written by the caller). */
    readonly configPath: string,
    private readonly opts: {
      logDir?: string;
      env?: NodeJS.ProcessEnv;
      readyTimeoutMs?: number;
      /** Modules each server imports before it starts (tests: e.g. a skewed clock). */
      preload?: string[];
      /**
       * Each server in a process group of its own: Ctrl-C at the terminal then reaches only
       * the parent, which stops them in order (and a server's exit is never mistaken for a death).
       */
      ownProcessGroup?: boolean;
      /** Called when a server process exits, whatever the reason, before anyone waiting on it resumes. */
      onExit?: (id: string, exit: ServerExit) => void;
      /**
       * A command the server's node command runs under, e.g. ['ip', 'netns', 'exec', ns] to
       * start it in a network namespace (chaos --net namespaces). It must exec the command
       * (keep the pid), so that signals reach the server itself.
       */
      spawnPrefix?: (id: string) => string[];
    } = {},
  ) {
    for (const s of config.servers) {
      this.members.set(s.id, { child: null, state: 'down', exited: null, stopRequested: false });
      this.admins.set(s.id, new AdminClient(s.addr));
    }
  }

  /** The config's servers, then those added with addServer(). */
  get ids(): string[] {
    return [...this.members.keys()];
  }

  /**
   * Tracks a server that is not in the config file: one that joins the running cluster
   * (Raft §6; start it with `args: ['--join', <member addr>]` after `member add`). Its
   * address is where it will listen, as given to `member add`. Throws on a known id.
   */
  addServer(id: string, addr: string): void {
    if (this.members.has(id)) throw new Error(`${id} is already a server of this cluster`);
    this.members.set(id, { child: null, state: 'down', exited: null, stopRequested: false });
    this.admins.set(id, new AdminClient(addr));
  }

  /** The admin client of a server (the config's or one added with addServer()). */
  adminOf(id: string): AdminClient {
    this.member(id);
    return this.admin(id);
  }

  /** Resolves with the server's exit once its process ends by itself (or at once when it is down). */
  async exited(id: string): Promise<void> {
    await this.member(id).exited;
  }

  state(id: string): ServerState {
    return this.member(id).state;
  }

  pid(id: string): number | undefined {
    return this.member(id).child?.pid;
  }

  /** Spawns the server and waits until it answers Status; `args` go on its command line (e.g. --rejoin-empty). */
  async start(id: string, opts: { args?: string[] } = {}): Promise<void> {
    const m = this.member(id);
    if (m.state !== 'down') throw new Error(`${id} is already ${m.state}`);
    const logFile = this.logFile(id);
    mkdirSync(path.dirname(logFile), { recursive: true });
    const log = openSync(logFile, 'a');
    // Preloaded modules are TypeScript: tsx must be registered before them.
    const preload = (this.opts.preload ?? []).flatMap((p) => ['--import', p]);
    const heap = `--max-old-space-size=${this.config.memory.heapLimitMb}`;
    // Young-generation semi-spaces of 8 MiB instead of V8's 16: 20-40 MiB less resident
    // memory per server under load, at no throughput cost measured (bench --growth).
    const semi = ['--max-semi-space-size=8'];
    const nodeArgs = [heap, ...semi, ...(preload.length > 0 ? ['--import', 'tsx', ...preload] : []), BIN, 'node', '--id', id, '--config', this.configPath, ...(opts.args ?? [])];
    const prefix = this.opts.spawnPrefix?.(id) ?? [];
    const [command, ...args] = [...prefix, process.execPath, ...nodeArgs];
    const child = spawn(command, args, {
      cwd: REPO,
      stdio: ['ignore', log, log],
      detached: this.opts.ownProcessGroup ?? false,
      env: { ...process.env, RAFTKV_PARENT_PID: String(process.pid), ...this.opts.env },
    });
    closeSync(log);
    m.child = child;
    m.state = 'up';
    m.stopRequested = false;
    m.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      const requested = m.stopRequested;
      if (m.child === child) {
        m.child = null;
        m.state = 'down';
        m.stopRequested = false;
      }
      if (child.pid !== undefined) this.opts.onExit?.(id, { pid: child.pid, code, signal, requested, logFile });
      resolve();
    }));
    await this.waitFor(id, () => true, this.opts.readyTimeoutMs ?? 15_000, `${id} to answer Status (log: ${logFile})`);
    if (this.cuts.size > 0) await this.applyCuts(id);
  }

  /** Sends `signal` (SIGKILL by default: a crash) and waits for the process to exit. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.member(id);
    if (!m.child) return;
    m.stopRequested = true;
    if (m.state === 'paused' && signal !== 'SIGKILL') m.child.kill('SIGCONT');
    m.child.kill(signal);
    await m.exited;
  }

  /** Where the server's stdout and stderr go: <logDir or dataDir/logs>/<id>.log. */
  logFile(id: string): string {
    return path.join(this.opts.logDir ?? path.join(this.config.dataDir, 'logs'), `${id}.log`);
  }

  pause(id: string): void {
    const m = this.member(id);
    if (m.state !== 'up' || !m.child) throw new Error(`${id} is ${m.state}, cannot pause`);
    m.child.kill('SIGSTOP');
    m.state = 'paused';
  }

  resume(id: string): void {
    const m = this.member(id);
    if (m.state !== 'paused' || !m.child) throw new Error(`${id} is ${m.state}, cannot resume`);
    m.child.kill('SIGCONT');
    m.state = 'up';
    // A partition changed while it was frozen could not reach it: bring it up to date.
    this.applyCuts(id).catch(() => undefined);
  }

  async restart(id: string): Promise<void> {
    await this.kill(id);
    await this.start(id);
  }

  /** Cuts every link between the groups (servers drop each other's messages); replaces the cuts in force. */
  async partition(groups: string[][]): Promise<void> {
    const cuts: [string, string][] = [];
    for (const from of this.ids) {
      const mine = groups.find((g) => g.includes(from));
      for (const to of this.ids) if (to !== from && !mine?.includes(to)) cuts.push([from, to]);
    }
    await this.cutLinks(cuts);
  }

  /**
   * Replaces the cuts in force with `cuts`, each `[from, to]`: messages from `from` to `to`
   * are dropped (by both servers: `from` does not send them, `to` does not take them), so
   * a pair listed one way only is a one-way cut: `to` no longer hears `from`, `from` still
   * hears `to`.
   */
  async cutLinks(cuts: Iterable<readonly [string, string]>): Promise<void> {
    this.cuts = new Set([...cuts].map(([from, to]) => `${from}>${to}`));
    await Promise.all(this.ids.filter((id) => this.state(id) === 'up').map((id) => this.applyCuts(id)));
  }

  /** The cut links in force, as [from, to] pairs. */
  cutsInForce(): [string, string][] {
    return [...this.cuts].map((c) => c.split('>') as [string, string]);
  }

  async heal(): Promise<void> {
    await this.cutLinks([]);
  }

  private applyCuts(id: string): Promise<WireStatus> {
    const both: string[] = [];
    const inbound: string[] = [];
    const outbound: string[] = [];
    for (const p of this.ids) {
      if (p === id) continue;
      const hearCut = this.cuts.has(`${p}>${id}`);
      const sendCut = this.cuts.has(`${id}>${p}`);
      if (hearCut && sendCut) both.push(p);
      else if (hearCut) inbound.push(p);
      else if (sendCut) outbound.push(p);
    }
    return this.admin(id).setBlockedPeers(both, 1000, { inbound, outbound });
  }

  status(id: string, deadlineMs = 1000): Promise<WireStatus> {
    return this.admin(id).status(deadlineMs);
  }

  /** Statuses of the servers that answer. */
  async statuses(): Promise<WireStatus[]> {
    const all = await Promise.all(this.ids.filter((id) => this.state(id) === 'up').map((id) => this.status(id, 500).catch(() => null)));
    return all.filter((s): s is WireStatus => s !== null);
  }

  /** Waits until one server leads and every answering server agrees on it. */
  async waitForLeader(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const st = await this.statuses();
      const leaders = st.filter((s) => s.role === 'leader');
      if (leaders.length === 1 && st.length > 0 && st.every((s) => s.leaderId === leaders[0].serverId)) return leaders[0].serverId;
      await sleep(50);
    }
    throw new Error(`no agreed leader within ${timeoutMs} ms`);
  }

  async waitFor(id: string, cond: (s: WireStatus) => boolean, timeoutMs: number, what: string): Promise<WireStatus> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.state(id) === 'down') {
        const tail = lastLines(this.logFile(id), 8);
        throw new Error(`${id} exited while waiting for ${what}${tail.length > 0 ? `; last lines of its log:\n${tail.join('\n')}` : ''}`);
      }
      const s = await this.status(id, 500).catch(() => null);
      if (s && cond(s)) return s;
      await sleep(50);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  /** Stops the server: SIGTERM, then SIGKILL if it is still running after `graceMs`. */
  async stop(id: string, graceMs = 3000): Promise<void> {
    const m = this.member(id);
    if (!m.child) return;
    const child = m.child;
    const exited = m.exited;
    m.stopRequested = true;
    if (m.state === 'paused') child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Stops every process this cluster started: SIGTERM, then SIGKILL after a grace period. */
  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all(this.ids.map((id) => this.stop(id, graceMs)));
    for (const a of this.admins.values()) a.close();
  }

  private admin(id: string): AdminClient {
    return this.admins.get(id)!;
  }

  private member(id: string): Member {
    const m = this.members.get(id);
    if (!m) throw new Error(`unknown server ${id} (servers: ${this.ids.join(', ')})`);
    return m;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
