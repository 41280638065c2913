import type { OpOutcome } from '../client/kv-client.ts';
import type { ClientOp } from '../kv/command.ts';
import { isReadOp } from '../kv/op-info.ts';
import { leaderText, statusText, traceText } from './cluster-text.ts';
import { parseCommand, type ClusterAction, type TuiCommand } from './commands.ts';
import type { AdminAnswer, ControllerDeps, KvOps, MembershipAdmin } from './deps.ts';
import { changeText, membersText, type Change } from './members.ts';
import { StateStore, type Snapshot } from './state.ts';
import { StatusPoller } from './status-poller.ts';

/**
 * Runs the UI's commands against a cluster and a KV client, and records what happened as
 * result entries in the state the screen shows. Never throws from run(): every failure
 * becomes an error entry.
 */
export class Controller {
  private readonly store: StateStore;
  private readonly poller: StatusPoller;
  private client: Promise<KvOps> | null = null;
  private readonly quitListeners = new Set<() => void>();
  /** The store's pair, for useSyncExternalStore (stable functions, safe to pass around). */
  readonly subscribe: StateStore['subscribe'];
  readonly getSnapshot: StateStore['getSnapshot'];

  constructor(private readonly deps: ControllerDeps) {
    this.store = new StateStore({
      rows: deps.servers.map((s) => ({ id: s.id, addr: s.addr, liveness: deps.cluster ? deps.cluster.state(s.id) : 'no answer', status: null, fresh: false, blocked: [] })),
      results: [],
      view: 'main',
      launched: deps.cluster !== null,
      leader: null,
      members: null,
    });
    this.poller = new StatusPoller(deps, this.store);
    this.subscribe = this.store.subscribe;
    this.getSnapshot = this.store.getSnapshot;
  }

  /** Every server on the panel: the configured ones and members learned since (for parsing and completion). */
  get serverIds(): string[] {
    return this.snap.rows.map((r) => r.id);
  }

  private get snap(): Snapshot {
    return this.store.getSnapshot();
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
    if (this.snap.view !== view) this.store.update({ view });
  }

  /** Asks every server for its status every ~intervalMs until stopPolling(). */
  startPolling(intervalMs = 300): void {
    this.poller.start(intervalMs);
  }

  stopPolling(): void {
    this.poller.stop();
  }

  /** A fresh look at every server; resolves when all have answered or timed out. */
  pollOnce(): Promise<void> {
    return this.poller.pollOnce();
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
      this.error(input, parsed.error);
      return;
    }
    if (this.snap.view === 'help' && parsed.command.type !== 'help') this.setView('main');
    try {
      await this.execute(parsed.command, input);
    } catch (err) {
      if (!(err instanceof Handled)) this.error(input, errorText(err));
    }
  }

  private async execute(cmd: TuiCommand, input: string): Promise<void> {
    switch (cmd.type) {
      case 'op':
        return this.runOp(cmd.op, input);
      case 'leader':
        await this.pollOnce();
        return this.info(input, leaderText(this.snap));
      case 'status':
        await this.pollOnce();
        return this.info(input, statusText(this.snap.rows, (id) => this.pidOf(id), this.snap.members?.joint ?? false));
      case 'members':
        return this.runMembers(input);
      case 'add':
        return this.runChange({ type: 'add', id: cmd.id, addr: cmd.addr, learner: cmd.learner }, input, `adding ${cmd.id}...`, (a) => a.add(cmd.id, cmd.addr, cmd.learner));
      case 'promote':
        return this.runChange({ type: 'promote', id: cmd.server }, input, `promoting ${cmd.server}...`, (a) => a.promote(cmd.server));
      case 'remove':
        return this.runChange({ type: 'remove', id: cmd.server }, input, `removing ${cmd.server}...`, (a) => a.remove(cmd.server));
      case 'transfer': {
        const target = cmd.server ?? '';
        return this.runChange({ type: 'transfer', target }, input, `handing leadership ${target ? `to ${target}` : 'over'}...`, (a) => a.transfer(target));
      }
      case 'cluster':
        return this.runCluster(cmd.action, cmd.server, input);
      case 'heal':
        return this.runHeal(input);
      case 'trace':
        return this.info(input, traceText(await this.deps.trace()));
      case 'help':
        return this.setView(this.snap.view === 'help' ? 'main' : 'help');
      case 'clear':
        return this.store.update({ results: [] });
      case 'quit':
        this.info(input, this.snap.launched ? 'quitting: stopping every process this UI started...' : 'quitting (the cluster keeps running)...');
        this.deps.onQuit?.();
        for (const l of this.quitListeners) l();
        return;
    }
  }

  private async runOp(op: ClientOp, input: string): Promise<void> {
    const entry = this.store.add({ kind: 'op', input, pending: true });
    let client: KvOps;
    try {
      client = await this.kvClient();
    } catch (err) {
      this.store.replace(entry.seq, { kind: 'error', pending: false, message: `cannot reach the cluster: ${errorText(err)}` });
      return;
    }
    try {
      const out = await client.execute(op);
      this.store.replace(entry.seq, {
        pending: false,
        opId: out.opId,
        value: out.value,
        ...(op.type === 'mget' ? { pairs: op.keys.map((key, i) => ({ key, value: out.values?.[i] ?? '' })) } : {}),
        servedBy: out.servedBy,
        latencyMs: out.latencyMs,
      });
    } catch (err) {
      const outcome = (err as { outcome?: OpOutcome }).outcome;
      // The UI's client gives a repeated command a new opId: repeating it is not a retry.
      const unknownEffect = outcome && !isReadOp(op) && (outcome.errorKind ?? (outcome.failed ? 'failed' : 'unknown')) === 'unknown';
      this.store.replace(entry.seq, {
        kind: 'error',
        pending: false,
        opId: outcome?.opId,
        servedBy: outcome?.servedBy || undefined,
        latencyMs: outcome?.latencyMs,
        message: `${errorText(err)}${unknownEffect ? ' (it may or may not have taken effect: check with get before repeating it)' : ''}`,
      });
    }
  }

  private async runMembers(input: string): Promise<void> {
    let answer;
    try {
      answer = await this.poller.refreshMembers();
    } catch (err) {
      return this.error(input, `cannot read the membership: ${errorText(err)}`);
    }
    this.info(input, membersText(answer, this.snap.rows));
  }

  /**
   * A membership change or a transfer, through the leader: pending while it commits, then
   * what it did or why not. A change that went through shows on the panel at once (the
   * leader answers with the new configuration), and a poll follows for the rest.
   */
  private async runChange(change: Change, input: string, pending: string, send: (a: MembershipAdmin) => Promise<AdminAnswer>): Promise<void> {
    const leaderBefore = this.snap.leader?.id ?? (this.snap.members?.leaderId || null);
    const entry = this.store.add({ kind: 'info', input, pending: true, message: pending });
    let answer: AdminAnswer;
    try {
      answer = await send(this.deps.admin());
    } catch (err) {
      this.store.replace(entry.seq, { kind: 'error', pending: false, message: errorText(err) });
      return;
    }
    const { ok, message } = changeText(change, answer, leaderBefore);
    const from = answer.asked.at(-1);
    this.store.replace(entry.seq, { kind: ok ? 'info' : 'error', pending: false, message, servedBy: from });
    if (ok && answer.result.members && from !== undefined) this.poller.showMembers({ ...answer.result.members, from });
    if (ok) void this.pollOnce();
  }

  private pidOf(id: string): number | undefined {
    const cluster = this.deps.cluster;
    return cluster && cluster.ids.includes(id) ? cluster.pid(id) : undefined;
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
    if (!cluster.ids.includes(id)) return this.error(input, `${id} is not a process this UI started (it joined the cluster later): stop or start it where it runs`);
    const state = cluster.state(id);
    const wasLeader = this.snap.leader?.id === id;
    switch (action) {
      case 'kill': {
        if (state === 'down') return this.error(input, `${id} is already down (restart ${id} starts it)`);
        const entry = this.store.add({ kind: 'info', input, pending: true, message: `killing ${id}...` });
        await this.step(entry.seq, () => cluster.kill(id));
        return this.done(entry.seq, `killed ${id} (kill -9)${wasLeader ? '; it was the leader: the others elect a new one' : ''}`);
      }
      case 'restart': {
        const entry = this.store.add({ kind: 'info', input, pending: true, message: `${state === 'down' ? 'starting' : 'restarting'} ${id}...` });
        await this.poller.whileStarting(id, () => this.step(entry.seq, () => cluster.restart(id)));
        void this.pollOnce();
        return this.done(entry.seq, `${id} ${state === 'down' ? 'started' : 'restarted'} (pid ${cluster.pid(id) ?? '?'}); it catches up from the leader`);
      }
      case 'pause':
        if (state !== 'up') return this.error(input, `${id} is ${state}: only a running server can be paused`);
        cluster.pause(id);
        this.store.setLiveness(id, 'paused');
        return this.info(input, `paused ${id} (SIGSTOP)${wasLeader ? '; it was the leader: the others elect a new one' : ''}; resume ${id} wakes it`);
      case 'resume':
        if (state !== 'paused') return this.error(input, `${id} is ${state}, not paused`);
        cluster.resume(id);
        this.store.setLiveness(id, 'up');
        return this.info(input, `resumed ${id} (SIGCONT)`);
      case 'partition': {
        if (state !== 'up') return this.error(input, `${id} is ${state}: only a running server can be partitioned`);
        const rest = cluster.ids.filter((s) => s !== id);
        const entry = this.store.add({ kind: 'info', input, pending: true, message: `cutting ${id} off...` });
        await this.step(entry.seq, () => cluster.partition([[id], rest]));
        void this.pollOnce();
        return this.done(entry.seq, `${id} is cut off from ${rest.join(', ')}; heal restores every link`);
      }
    }
  }

  private async runHeal(input: string): Promise<void> {
    const cluster = this.deps.cluster;
    if (!cluster) return this.notLaunched(input);
    const entry = this.store.add({ kind: 'info', input, pending: true, message: 'healing...' });
    await this.step(entry.seq, () => cluster.heal());
    void this.pollOnce();
    this.done(entry.seq, 'healed: every running server accepts messages from every other');
  }

  /** Runs a cluster action; on failure turns its pending entry into the error and throws Handled. */
  private async step(seq: number, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.store.replace(seq, { kind: 'error', pending: false, message: errorText(err) });
      throw new Handled();
    }
  }

  private notLaunched(input: string): void {
    const hint = this.deps.configPath ? ` (find pids with: npm run raftkv -- status --config ${this.deps.configPath})` : '';
    this.error(input, `not available: this UI did not launch the cluster, so it cannot kill, restart, pause, resume, partition or heal servers${hint}`);
  }

  private info(input: string, message: string): void {
    this.store.add({ kind: 'info', input, pending: false, message });
  }

  private error(input: string, message: string): void {
    this.store.add({ kind: 'error', input, pending: false, message });
  }

  private done(seq: number, message: string): void {
    this.store.replace(seq, { pending: false, message });
  }

  /** Stops polling and the KV client (the caller stops the processes it started). */
  async close(): Promise<void> {
    this.poller.close();
    const client = this.client;
    this.client = null;
    if (client) await client.then((c) => c.stop(), () => undefined);
  }
}

/** Thrown by step() after it has already recorded the error. */
class Handled extends Error {}

/** The message of anything thrown, for an error entry. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
