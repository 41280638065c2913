import type { OpOutcome } from '../client/kv-client.ts';
import type { ClientOp } from '../kv/command.ts';
import type { ServerEntry } from '../server/config.ts';
import type { WireStatus } from '../transport/wire.ts';
import { parseCommand, type ClusterAction, type TuiCommand } from './commands.ts';

/**
 * What the UI can do to server processes. ProcessCluster (src/cluster/process-cluster.ts)
 * has this shape, so a cluster the UI launched is passed as it is; an attached cluster has none.
 */
export interface ClusterControl {
  readonly ids: string[];
  state(id: string): 'down' | 'up' | 'paused';
  pid(id: string): number | undefined;
  kill(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  pause(id: string): void;
  resume(id: string): void;
  partition(groups: string[][]): Promise<void>;
  heal(): Promise<void>;
}

/** The client operations the UI runs (KvClient has this shape). */
export interface KvOps {
  execute(op: ClientOp): Promise<OpOutcome>;
  stop(): Promise<void>;
}

export interface TraceInfo {
  /** The run's directory (shiviz.log, trace.jsonl, history.json), if known. */
  dir: string | null;
  /** host:port of the tracing server, or null when the cluster traces nowhere. */
  addr: string | null;
  /** Why the directory is unknown, when it is. */
  note?: string;
  /** The UI's own client id in the trace. */
  clientId?: string;
}

export interface ControllerDeps {
  servers: ServerEntry[];
  /** null: attached to a cluster this UI did not start. */
  cluster: ClusterControl | null;
  /** Starts the KV client; called again after a failure. */
  connect(): Promise<KvOps>;
  /** One server's status (rejects when it does not answer). */
  status(id: string): Promise<WireStatus>;
  trace(): Promise<TraceInfo>;
  /** Asked to quit (quit command). */
  onQuit?(): void;
  /** Where the cluster's config is, shown in hints. */
  configPath?: string | null;
  now?(): number;
}

export type Liveness = 'up' | 'down' | 'paused' | 'no answer' | 'starting';

export interface ServerRow {
  id: string;
  addr: string;
  liveness: Liveness;
  /** The last status it answered with; null if it never did since it (re)started. */
  status: WireStatus | null;
  /** This status is from the latest poll. */
  fresh: boolean;
  /** The peers this server drops messages from. */
  blocked: string[];
}

export type ResultKind = 'op' | 'info' | 'error';

export interface ResultEntry {
  seq: number;
  kind: ResultKind;
  /** The command as typed. */
  input: string;
  pending: boolean;
  opId?: number;
  value?: string;
  /** mget: the keys and their values. */
  pairs?: { key: string; value: string }[];
  servedBy?: string;
  latencyMs?: number;
  /** info or error text (may hold several lines). */
  message?: string;
}

export interface Snapshot {
  rows: ServerRow[];
  results: ResultEntry[];
  view: 'main' | 'help';
  launched: boolean;
  /** The agreed leader (highest term among those claiming it), if any. */
  leader: { id: string; term: number } | null;
  polledAt: number;
}

const MAX_RESULTS = 200;

/**
 * Runs the UI's commands against a cluster and a KV client, and keeps the state the
 * screen shows. Never throws from run(): every failure becomes an error entry.
 */
export class Controller {
  private snap: Snapshot;
  private readonly listeners = new Set<() => void>();
  private seq = 0;
  private client: Promise<KvOps> | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  /** Status requests under way, by server. */
  private readonly asking = new Map<string, Promise<void>>();
  private closed = false;
  private readonly quitListeners = new Set<() => void>();
  /** Servers being started: shown as "starting" until they answer. */
  private readonly starting = new Set<string>();

  constructor(private readonly deps: ControllerDeps) {
    this.snap = {
      rows: deps.servers.map((s) => ({ id: s.id, addr: s.addr, liveness: deps.cluster ? toLiveness(deps.cluster.state(s.id)) : 'no answer', status: null, fresh: false, blocked: [] })),
      results: [],
      view: 'main',
      launched: deps.cluster !== null,
      leader: null,
      polledAt: 0,
    };
  }

  get serverIds(): string[] {
    return this.deps.servers.map((s) => s.id);
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): Snapshot => this.snap;

  private update(patch: Partial<Snapshot>): void {
    this.snap = { ...this.snap, ...patch };
    for (const l of this.listeners) l();
  }

  /** An information line in the results (e.g. where the data and traces are). */
  notice(message: string, input = ''): void {
    this.info(input, message);
  }

  /** Called when the user asks to quit. */
  onQuit(listener: () => void): () => void {
    this.quitListeners.add(listener);
    return () => this.quitListeners.delete(listener);
  }

  setView(view: Snapshot['view']): void {
    if (this.snap.view !== view) this.update({ view });
  }

  /** Parses and runs one line; resolves when the command has finished. */
  async run(line: string): Promise<void> {
    const input = line.trim();
    let parsed;
    try {
      parsed = parseCommand(input, this.serverIds);
    } catch (err) {
      parsed = { ok: false as const, error: `cannot parse: ${(err as Error).message}` };
    }
    if (parsed === null) return;
    if (!parsed.ok) {
      this.add({ kind: 'error', input, pending: false, message: parsed.error });
      return;
    }
    if (this.snap.view === 'help' && parsed.command.type !== 'help') this.setView('main');
    try {
      await this.execute(parsed.command, input);
    } catch (err) {
      if (!(err instanceof Handled)) this.add({ kind: 'error', input, pending: false, message: errorText(err) });
    }
  }

  private async execute(cmd: TuiCommand, input: string): Promise<void> {
    switch (cmd.type) {
      case 'op':
        return this.runOp(cmd.op, input);
      case 'leader':
        await this.pollOnce();
        return this.info(input, this.leaderText());
      case 'status':
        await this.pollOnce();
        return this.info(input, this.statusText());
      case 'cluster':
        return this.runCluster(cmd.action, cmd.server, input);
      case 'heal':
        return this.runHeal(input);
      case 'trace':
        return this.info(input, traceText(await this.deps.trace()));
      case 'help':
        return this.setView(this.snap.view === 'help' ? 'main' : 'help');
      case 'clear':
        return this.update({ results: [] });
      case 'quit':
        this.info(input, this.snap.launched ? 'quitting: stopping every process this UI started...' : 'quitting (the cluster keeps running)...');
        this.deps.onQuit?.();
        for (const l of this.quitListeners) l();
        return;
    }
  }

  private async runOp(op: ClientOp, input: string): Promise<void> {
    const entry = this.add({ kind: 'op', input, pending: true });
    let client: KvOps;
    try {
      client = await this.kvClient();
    } catch (err) {
      this.replace(entry.seq, { kind: 'error', pending: false, message: `cannot reach the cluster: ${errorText(err)}` });
      return;
    }
    try {
      const out = await client.execute(op);
      this.replace(entry.seq, {
        pending: false,
        opId: out.opId,
        value: out.value,
        ...(op.type === 'mget' ? { pairs: op.keys.map((key, i) => ({ key, value: out.values?.[i] ?? '' })) } : {}),
        servedBy: out.servedBy,
        latencyMs: out.latencyMs,
      });
    } catch (err) {
      const outcome = (err as { outcome?: OpOutcome }).outcome;
      const unknownEffect = outcome && !outcome.failed && op.type !== 'get' && op.type !== 'mget';
      this.replace(entry.seq, {
        kind: 'error',
        pending: false,
        opId: outcome?.opId,
        servedBy: outcome?.servedBy || undefined,
        latencyMs: outcome?.latencyMs,
        message: `${errorText(err)}${unknownEffect ? ' (it may or may not have taken effect; retrying is safe)' : ''}`,
      });
    }
  }

  private kvClient(): Promise<KvOps> {
    if (!this.client) {
      const p = this.deps.connect();
      this.client = p;
      p.catch(() => {
        if (this.client === p) this.client = null;
      });
    }
    return this.client;
  }

  private async runCluster(action: ClusterAction, id: string, input: string): Promise<void> {
    const cluster = this.deps.cluster;
    if (!cluster) return this.notLaunched(input);
    const state = cluster.state(id);
    const wasLeader = this.snap.leader?.id === id;
    switch (action) {
      case 'kill': {
        if (state === 'down') return this.error(input, `${id} is already down (restart ${id} starts it)`);
        const entry = this.add({ kind: 'info', input, pending: true, message: `killing ${id}...` });
        await this.step(entry.seq, () => cluster.kill(id));
        return this.done(entry.seq, `killed ${id} (kill -9)${wasLeader ? '; it was the leader: the others elect a new one' : ''}`);
      }
      case 'restart': {
        const entry = this.add({ kind: 'info', input, pending: true, message: `${state === 'down' ? 'starting' : 'restarting'} ${id}...` });
        this.starting.add(id);
        this.markLiveness(id, 'starting');
        try {
          await this.step(entry.seq, () => cluster.restart(id));
        } finally {
          this.starting.delete(id);
        }
        void this.pollOnce();
        return this.done(entry.seq, `${id} ${state === 'down' ? 'started' : 'restarted'} (pid ${cluster.pid(id) ?? '?'}); it catches up from the leader`);
      }
      case 'pause':
        if (state !== 'up') return this.error(input, `${id} is ${state}: only a running server can be paused`);
        cluster.pause(id);
        this.markLiveness(id, 'paused');
        return this.info(input, `paused ${id} (SIGSTOP)${wasLeader ? '; it was the leader: the others elect a new one' : ''}; resume ${id} wakes it`);
      case 'resume':
        if (state !== 'paused') return this.error(input, `${id} is ${state}, not paused`);
        cluster.resume(id);
        this.markLiveness(id, 'up');
        return this.info(input, `resumed ${id} (SIGCONT)`);
      case 'partition': {
        if (state !== 'up') return this.error(input, `${id} is ${state}: only a running server can be partitioned`);
        const rest = cluster.ids.filter((s) => s !== id);
        const entry = this.add({ kind: 'info', input, pending: true, message: `cutting ${id} off...` });
        await this.step(entry.seq, () => cluster.partition([[id], rest]));
        void this.pollOnce();
        return this.done(entry.seq, `${id} is cut off from ${rest.join(', ')}; heal restores every link`);
      }
    }
  }

  private async runHeal(input: string): Promise<void> {
    const cluster = this.deps.cluster;
    if (!cluster) return this.notLaunched(input);
    const entry = this.add({ kind: 'info', input, pending: true, message: 'healing...' });
    await this.step(entry.seq, () => cluster.heal());
    void this.pollOnce();
    this.done(entry.seq, 'healed: every running server accepts messages from every other');
  }

  /** Runs a cluster action; on failure turns its pending entry into the error and rethrows nothing. */
  private async step(seq: number, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.replace(seq, { kind: 'error', pending: false, message: errorText(err) });
      throw new Handled();
    }
  }

  private notLaunched(input: string): void {
    const hint = this.deps.configPath ? ` (find pids with: npm run raftkv -- status --config ${this.deps.configPath})` : '';
    this.error(input, `not available: this UI did not launch the cluster, so it cannot kill, restart, pause, resume, partition or heal servers${hint}`);
  }

  private markLiveness(id: string, liveness: Liveness): void {
    this.update({ rows: this.snap.rows.map((r) => (r.id === id ? { ...r, liveness } : r)) });
  }

  /**
   * Asks every server for its status every ~intervalMs until stopPolling(). Each server is
   * asked on its own: one that is slow to answer (paused, unreachable) holds up no other row.
   */
  startPolling(intervalMs = 300): void {
    if (this.pollTimer || this.closed) return;
    const tick = () => {
      void this.askAll();
      if (!this.closed && this.pollTimer) this.pollTimer = setTimeout(tick, intervalMs);
    };
    this.pollTimer = setTimeout(tick, 0);
  }

  stopPolling(): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  /**
   * A fresh look at every server: waits for requests already under way, then asks each
   * again; resolves when all have answered or timed out.
   */
  async pollOnce(): Promise<void> {
    await Promise.all([...this.asking.values()]);
    await this.askAll();
  }

  private async askAll(): Promise<void> {
    await Promise.all(this.deps.servers.map((s) => this.ask(s.id)));
  }

  /** One status request to one server (joins the one under way); its row updates when it answers. */
  private ask(id: string): Promise<void> {
    const under = this.asking.get(id);
    if (under) return under;
    const p = (async () => {
      let st: WireStatus | null = null;
      if (!this.deps.cluster || this.deps.cluster.state(id) === 'up') {
        try {
          st = await this.deps.status(id);
        } catch {
          st = null;
        }
      }
      if (!this.closed) this.applyStatus(id, st);
    })().finally(() => this.asking.delete(id));
    this.asking.set(id, p);
    return p;
  }

  private applyStatus(id: string, st: WireStatus | null): void {
    const rows = this.snap.rows.map((prev) => (prev.id === id ? this.rowFrom(prev, st) : this.relive(prev)));
    this.update({ rows, leader: findLeader(rows), polledAt: (this.deps.now ?? Date.now)() });
  }

  /** A row after its server answered (a status) or did not (null). */
  private rowFrom(prev: ServerRow, st: WireStatus | null): ServerRow {
    const state = this.deps.cluster?.state(prev.id);
    // An answer that arrives after the process was killed or paused no longer counts.
    const fresh = st !== null && (state === undefined || state === 'up');
    let liveness: Liveness;
    if (this.starting.has(prev.id)) liveness = 'starting';
    else if (state !== undefined) liveness = state === 'up' && !fresh ? 'no answer' : state;
    else liveness = fresh ? 'up' : 'no answer';
    return {
      ...prev,
      liveness,
      // A server that stopped answering keeps its last status on screen until it is back.
      status: fresh ? st : prev.status,
      fresh,
      blocked: fresh ? st.peers.filter((p) => p.blocked).map((p) => p.id) : liveness === 'down' ? [] : prev.blocked,
    };
  }

  /** Another server's row, following what this UI knows of its process in the meantime. */
  private relive(prev: ServerRow): ServerRow {
    const state = this.deps.cluster?.state(prev.id);
    if (this.starting.has(prev.id) || state === undefined || state === 'up') return prev;
    return { ...prev, liveness: state, fresh: false, blocked: state === 'down' ? [] : prev.blocked };
  }

  private leaderText(): string {
    const l = this.snap.leader;
    const answering = this.snap.rows.filter((r) => r.fresh).length;
    const total = this.snap.rows.length;
    if (!l) {
      const majority = Math.floor(total / 2) + 1;
      return answering < majority
        ? `no leader: ${answering} of ${total} servers answer, and a leader needs ${majority}`
        : `no leader yet: an election is under way (${answering} of ${total} servers answer)`;
    }
    const row = this.snap.rows.find((r) => r.id === l.id)!;
    const agree = this.snap.rows.filter((r) => r.fresh && r.status?.leaderId === l.id).length;
    return `leader: ${l.id} (term ${l.term}, commit ${row.status?.commitIndex ?? '?'}); ${agree} of ${total} servers follow it`;
  }

  private statusText(): string {
    const head = ['server', 'addr', 'state', 'role', 'term', 'commit', 'applied', 'pid'];
    const rows = this.snap.rows.map((r) => {
      const st = r.fresh ? r.status : null;
      return [r.id, r.addr, stateLabel(r), st?.role ?? '-', st ? String(st.term) : '-', st ? String(st.commitIndex) : '-', st ? String(st.appliedIndex) : '-', String(st?.pid ?? this.deps.cluster?.pid(r.id) ?? '-')];
    });
    return table([head, ...rows]);
  }

  private add(fields: Omit<ResultEntry, 'seq'>): ResultEntry {
    const entry: ResultEntry = { seq: ++this.seq, ...fields };
    const results = [...this.snap.results, entry];
    this.update({ results: results.length > MAX_RESULTS ? results.slice(-MAX_RESULTS) : results });
    return entry;
  }

  private replace(seq: number, fields: Partial<ResultEntry>): void {
    this.update({ results: this.snap.results.map((e) => (e.seq === seq ? { ...e, ...fields } : e)) });
  }

  private info(input: string, message: string): void {
    this.add({ kind: 'info', input, pending: false, message });
  }

  private error(input: string, message: string): void {
    this.add({ kind: 'error', input, pending: false, message });
  }

  private done(seq: number, message: string): void {
    this.replace(seq, { pending: false, message });
  }

  /** Stops polling and the KV client (the caller stops the processes it started). */
  async close(): Promise<void> {
    this.closed = true;
    this.stopPolling();
    const client = this.client;
    this.client = null;
    if (client) await client.then((c) => c.stop(), () => undefined);
  }
}

/** Thrown by step() after it has already recorded the error. */
class Handled extends Error {}

function toLiveness(s: 'down' | 'up' | 'paused'): Liveness {
  return s;
}

/** The server that claims leadership in the highest term among those answering. */
export function findLeader(rows: ServerRow[]): { id: string; term: number } | null {
  let best: { id: string; term: number } | null = null;
  for (const r of rows) {
    if (!r.fresh || r.status?.role !== 'leader') continue;
    if (!best || r.status.term > best.term) best = { id: r.id, term: r.status.term };
  }
  return best;
}

/** up / down / paused / partitioned / cut from N / starting / no answer. */
export function stateLabel(r: ServerRow): string {
  if (r.liveness !== 'up') return r.liveness;
  const peers = r.status?.peers.length ?? 0;
  if (r.blocked.length > 0 && r.blocked.length >= peers) return 'partitioned';
  if (r.blocked.length === 1) return `up, cut from ${r.blocked[0]}`;
  if (r.blocked.length > 1) return `up, cut from ${r.blocked.length}`;
  return 'up';
}

export function traceText(t: TraceInfo): string {
  if (!t.addr) return `this cluster traces nowhere (its config has no traceServer)${t.note ? `: ${t.note}` : ''}`;
  const lines = [
    t.dir ? `trace files: ${t.dir}/  (shiviz.log, trace.jsonl, history.json)` : `tracing server ${t.addr}${t.note ? `: ${t.note}` : ''}`,
    `tracing server: ${t.addr}${t.clientId ? `; this UI's operations are traced as client "${t.clientId}"` : ''}`,
    'ShiViz: open https://bestchai.bitbucket.io/shiviz/, "Try out ShiViz", load shiviz.log, press "Visualize"',
  ];
  return lines.join('\n');
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
