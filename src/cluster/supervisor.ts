import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { ClusterConfig } from '../server/config.ts';
import { dirHolder, isAlive, processStart } from '../server/data-dir-lock.ts';
import { readRemovedMarker } from '../server/removed-marker.ts';
import { listenProblem } from './free-ports.ts';
import { lastLines } from './last-lines.ts';
import { ProcessCluster, type ServerExit } from './process-cluster.ts';
import { removeSupervisorFile, show, writeSupervisorFile, type ManagedServer, type SupervisorRecord } from './supervisor-file.ts';

export interface SupervisorOptions {
  config: ClusterConfig;
  /** The cluster.json the servers read. */
  configFile: string;
  /** Events for the person at the terminal: starts, stops, restarts. */
  log(line: string): void;
  /** Deaths and failures. */
  alert(line: string): void;
  /**
   * How a command to restart a server is written in the messages ("npx raftkv cluster
   * restart <id>"); `rejoinEmpty`: with --rejoin-empty, for a server that refused to start
   * because its log lost entries it had acknowledged.
   */
  restartHint(id: string, rejoinEmpty?: boolean): string;
}

/**
 * `raftkv cluster up` as a supervisor of its servers. It starts them, reports at once a
 * server that dies (which, how, the last lines of its log), and takes commands on a
 * control endpoint (HTTP on 127.0.0.1, a random port, a bearer token) that it writes,
 * with the state of each server, to `<dataDir>/supervisor.json`:
 *
 *   GET  /status         the managed state of each server
 *   POST /restart/<id>   stop it if running (SIGTERM, SIGKILL after 3 s), start it, wait until it answers;
 *                        body {rejoinEmpty: true}: start it with --rejoin-empty
 *   POST /kill/<id>      kill -9, on purpose: marked stopped, not died
 *   POST /adopt          {id, pid, start}: a server started by hand (`raftkv node`) on this
 *                        cluster's config; it is then stopped with the rest and its death reported
 *   POST /down           stop every server, then the supervisor itself exits
 */
export class Supervisor {
  readonly cluster: ProcessCluster;
  private readonly servers: Record<string, ManagedServer> = {};
  private readonly adopted = new Map<string, { pid: number; start?: string; stopRequested: boolean; timer: NodeJS.Timeout }>();
  /** One command at a time per server. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly token = randomBytes(24).toString('hex');
  private readonly http: http.Server;
  private control = '';
  private stopping: Promise<string> | null = null;
  private readonly startedAt = new Date().toISOString();
  private stoppingWhy!: (why: string) => void;
  /** Resolves with the reason when something (a signal, `cluster down`) starts stopping the cluster. */
  readonly whenStopping = new Promise<string>((resolve) => (this.stoppingWhy = resolve));

  constructor(private readonly opts: SupervisorOptions) {
    const { config, configFile } = opts;
    this.cluster = new ProcessCluster(config, configFile, { ownProcessGroup: true, onExit: (id, exit) => this.exited(id, exit) });
    for (const s of config.servers) this.servers[s.id] = { state: 'stopped', pid: null, since: this.startedAt };
    this.http = http.createServer((req, res) => void this.handle(req, res));
  }

  get dataDir(): string {
    return this.opts.config.dataDir;
  }

  /** Opens the control endpoint and writes the runtime file; call before starting servers. */
  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', () => resolve());
    });
    this.control = `127.0.0.1:${(this.http.address() as net.AddressInfo).port}`;
    this.persist();
  }

  /** Starts every server and waits until each answers; rejects on the first that fails. */
  async startAll(): Promise<void> {
    await Promise.all(
      this.opts.config.servers.map((s) => {
        // A founder removed from the cluster would only stop again at once.
        const removedAt = readRemovedMarker(path.join(this.dataDir, s.id));
        if (removedAt === null) return this.serial(s.id, () => this.startOne(s.id));
        this.set(s.id, { state: 'removed', pid: null });
        this.opts.log(`${s.id} was removed from the cluster${removedAt > 0 ? ` at index ${removedAt}` : ''}: not started`);
        return Promise.resolve();
      }),
    );
  }

  pid(id: string): number | undefined {
    return this.cluster.pid(id);
  }

  /**
   * Stops every server (its own children and adopted ones), removes the runtime file and
   * returns a summary line. Idempotent: later calls get the first call's promise.
   */
  stopAll(why: string): Promise<string> {
    this.stoppingWhy(why);
    return (this.stopping ??= (async () => {
      const running = this.opts.config.servers.filter((s) => this.cluster.state(s.id) !== 'down' || this.adopted.has(s.id)).map((s) => s.id);
      this.opts.log(`${why}: stopping ${running.length} server${running.length === 1 ? '' : 's'}...`);
      await Promise.all([this.cluster.stopAll(), ...[...this.adopted.keys()].map((id) => this.stopAdopted(id))]);
      removeSupervisorFile(this.dataDir);
      return `stopped ${running.length} server${running.length === 1 ? '' : 's'}${running.length > 0 ? ` (${running.join(', ')})` : ''}`;
    })());
  }

  /** Closes the control endpoint once the replies in flight are sent. */
  closeControl(): Promise<void> {
    return new Promise((resolve) => this.http.close(() => resolve()));
  }

  /** `args` go on the server's command line (--rejoin-empty). */
  private async startOne(id: string, args: string[] = []): Promise<void> {
    this.set(id, { state: 'starting', pid: null });
    const started = this.cluster.start(id, { args });
    const pid = this.cluster.pid(id) ?? null;
    this.set(id, { state: 'starting', pid, start: pid ? processStart(pid) : undefined });
    await started;
    this.set(id, { ...this.servers[id], state: 'up' });
  }

  private exited(id: string, exit: ServerExit): void {
    const how = { code: exit.code, signal: exit.signal };
    if (exit.requested || this.stopping) {
      this.set(id, { state: 'stopped', pid: exit.pid, exit: how });
      return;
    }
    // A server removed from the cluster (Raft §6) stops by itself, exit 0, and records it:
    // that is the change an operator asked for, not a death to restart.
    const removedAt = exit.code === 0 ? readRemovedMarker(path.join(this.dataDir, id)) : null;
    if (removedAt !== null) {
      this.set(id, { state: 'removed', pid: exit.pid, exit: how });
      this.opts.log(`${id} was removed from the cluster${removedAt > 0 ? ` at index ${removedAt}` : ''} and stopped; it is no longer a member`);
      return;
    }
    this.set(id, { state: 'died', pid: exit.pid, exit: how });
    const cause = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const tail = lastLines(exit.logFile, 12);
    this.opts.alert(
      [
        `${id} died: ${cause} (pid ${exit.pid}).`,
        tail.length > 0 ? `last lines of ${show(exit.logFile)}:\n${tail.map((l) => `    ${l}`).join('\n')}` : `${show(exit.logFile)} is empty.`,
        refusedLostEntries(tail)
          ? `it refused to start: its log lost entries it had acknowledged, and a plain restart refuses again. To set that log aside and rejoin with an empty log (it catches up from the leader): ${this.opts.restartHint(id, true)}`
          : `restart it: ${this.opts.restartHint(id)}`,
      ].join('\n'),
    );
  }

  private async restart(id: string, rejoinEmpty: boolean): Promise<string> {
    if (this.stopping) throw new ControlError(409, 'the cluster is stopping');
    const removedAt = readRemovedMarker(path.join(this.dataDir, id));
    if (removedAt !== null) {
      throw new ControlError(409, `${id} was removed from the cluster${removedAt > 0 ? ` at index ${removedAt}` : ''}: it would stop again at once (a removed id is not reused; add a server under a new id)`);
    }
    return this.serial(id, async () => {
      const wasUp = this.cluster.state(id) !== 'down' || this.adopted.has(id);
      if (this.adopted.has(id)) await this.stopAdopted(id);
      else await this.cluster.stop(id);
      const holder = dirHolder(path.join(this.dataDir, id));
      if (holder) throw new ControlError(409, `${id} cannot start: ${show(path.join(this.dataDir, id))} is in use by pid ${holder.pid}`);
      try {
        await this.startOne(id, rejoinEmpty ? ['--rejoin-empty'] : []);
      } catch (err) {
        const hint = !rejoinEmpty && refusedLostEntries(lastLines(this.cluster.logFile(id), 12)) ? `; its log lost entries it had acknowledged: ${this.opts.restartHint(id, true)} sets that log aside and rejoins it empty` : '';
        throw new ControlError(500, `${id} failed to start: ${(err as Error).message}${hint}`);
      }
      const line = `${id} ${wasUp ? 'restarted' : 'started'}${rejoinEmpty ? ' with --rejoin-empty' : ''} (pid ${this.cluster.pid(id)})`;
      this.opts.log(line);
      return line;
    });
  }

  private async kill(id: string): Promise<string> {
    if (this.stopping) throw new ControlError(409, 'the cluster is stopping');
    return this.serial(id, async () => {
      const adopted = this.adopted.get(id);
      if (adopted) {
        adopted.stopRequested = true;
        try {
          process.kill(adopted.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await waitUntil(() => !isAlive(adopted), 5000);
        this.forgetAdopted(id, { code: null, signal: 'SIGKILL' });
      } else {
        if (this.cluster.state(id) === 'down') throw new ControlError(409, `${id} is not running (${this.servers[id].state})`);
        await this.cluster.kill(id, 'SIGKILL');
      }
      const line = `${id} killed (SIGKILL) on request`;
      this.opts.log(line);
      return line;
    });
  }

  private adopt(id: string, pid: number, start: string | undefined): string {
    if (this.stopping) throw new ControlError(409, 'the cluster is stopping');
    if (this.cluster.state(id) !== 'down') throw new ControlError(409, `${id} is already running under the supervisor (pid ${this.cluster.pid(id)})`);
    const owner = { pid, start };
    if (!isAlive(owner)) throw new ControlError(400, `pid ${pid} is not running`);
    const old = this.adopted.get(id);
    if (old) clearInterval(old.timer);
    const entry = {
      pid,
      start,
      stopRequested: false,
      timer: setInterval(() => {
        if (isAlive(owner)) return;
        if (entry.stopRequested || this.stopping) return this.forgetAdopted(id, { code: null, signal: null });
        this.forgetAdopted(id, null);
        this.opts.alert(`${id} died: the process started by hand (pid ${pid}) is gone; its exit status went to the shell that started it.\nrestart it: ${this.opts.restartHint(id)}`);
      }, 200),
    };
    this.adopted.set(id, entry);
    this.set(id, { state: 'up', pid, start, adopted: true });
    const line = `${id} started by hand (pid ${pid}): supervised from now on`;
    this.opts.log(line);
    return line;
  }

  private async stopAdopted(id: string): Promise<void> {
    const a = this.adopted.get(id);
    if (!a) return;
    a.stopRequested = true;
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(a.pid, sig);
      } catch {
        // gone
      }
    };
    signal('SIGTERM');
    if (!(await waitUntil(() => !isAlive(a), 3000))) {
      signal('SIGKILL');
      await waitUntil(() => !isAlive(a), 3000);
    }
    this.forgetAdopted(id, { code: null, signal: null });
  }

  /** An adopted process is gone: `exit` null for a death, else a stop that was asked for. */
  private forgetAdopted(id: string, exit: { code: number | null; signal: string | null } | null): void {
    const a = this.adopted.get(id);
    if (!a) return;
    clearInterval(a.timer);
    this.adopted.delete(id);
    this.set(id, { state: exit ? 'stopped' : 'died', pid: a.pid, adopted: true, ...(exit && (exit.code !== null || exit.signal !== null) ? { exit } : {}) });
  }

  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.queues.set(id, next);
    return next;
  }

  private set(id: string, m: Omit<ManagedServer, 'since'>): void {
    this.servers[id] = { ...m, since: new Date().toISOString() };
    this.persist();
  }

  private persist(): void {
    if (!this.control || this.stopping) return;
    const rec: SupervisorRecord = {
      pid: process.pid,
      start: processStart(process.pid),
      control: this.control,
      token: this.token,
      config: this.opts.configFile,
      startedAt: this.startedAt,
      servers: this.servers,
    };
    writeSupervisorFile(this.dataDir, rec);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) throw new ControlError(403, 'bad or missing token');
      const parts = new URL(req.url ?? '/', 'http://supervisor').pathname.split('/').filter(Boolean);
      const body = await readJson(req);
      const known = (id: string | undefined): string => {
        if (id === undefined || !(id in this.servers)) throw new ControlError(404, `no server "${id}" in this cluster (servers: ${Object.keys(this.servers).join(', ')})`);
        return id;
      };
      const route = `${req.method} /${parts[0] ?? ''}`;
      if (route === 'GET /status') return reply(200, { ok: true, pid: process.pid, servers: this.servers });
      if (route === 'POST /down') return reply(200, { ok: true, message: await this.stopAll(`cluster down (${String(body.from ?? 'another process')})`) });
      if (route === 'POST /restart') return reply(200, { ok: true, message: await this.restart(known(parts[1]), body.rejoinEmpty === true) });
      if (route === 'POST /kill') return reply(200, { ok: true, message: await this.kill(known(parts[1])) });
      if (route === 'POST /adopt') {
        const pid = Number(body.pid);
        if (!Number.isInteger(pid) || pid <= 0) throw new ControlError(400, 'adopt needs a pid');
        return reply(200, { ok: true, message: this.adopt(known(body.id as string | undefined), pid, typeof body.start === 'string' ? body.start : undefined) });
      }
      throw new ControlError(404, `unknown request ${route}`);
    } catch (err) {
      reply(err instanceof ControlError ? err.status : 500, { ok: false, error: (err as Error).message });
    }
  }
}

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      text += d;
      if (text.length > 65_536) req.destroy(new Error('request too large'));
    });
    req.on('error', reject);
    req.on('end', () => {
      if (text.trim() === '') return resolve({});
      try {
        const v = JSON.parse(text) as unknown;
        resolve(typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
      } catch {
        reject(new ControlError(400, 'the request body is not JSON'));
      }
    });
  });
}


async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * What stands in the way of starting this cluster, without touching anything: a server
 * data directory another process holds, an address something already listens on.
 */
export async function clusterProblems(config: ClusterConfig): Promise<string[]> {
  const problems: string[] = [];
  for (const s of config.servers) {
    const dir = path.join(config.dataDir, s.id);
    const holder = dirHolder(dir);
    if (holder) problems.push(`${show(dir)} is in use by pid ${holder.pid}${holder.what ? ` (${holder.what})` : ''}`);
  }
  const ports = await Promise.all(config.servers.map(async (s) => ({ s, problem: await listenProblem(s.addr) })));
  for (const { s, problem } of ports) if (problem) problems.push(`${s.addr} (${s.id}): ${problem}`);
  return problems;
}

/**
 * Whether a server's last log lines are its refusal to start over a log that lost entries
 * it had acknowledged (LostEntriesError, a damaged log or snapshot): those refusals, and
 * only those, advise "start with --rejoin-empty".
 */
function refusedLostEntries(tail: string[]): boolean {
  return tail.some((l) => l.includes('start with --rejoin-empty'));
}
