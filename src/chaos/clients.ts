import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorKind } from '../client/kv-client.ts';
import type { HistoryEntry } from '../../tracing/history.ts';
import type { FromWorker, ToWorker, WorkerStart } from './client-worker.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The `raftkv` command (its bundle when fresh): `raftkv chaos-client` runs client-worker.ts. */
const BIN = path.join(REPO, 'bin/raftkv.js');

/** One finished operation as the parent hears it. */
export interface ClientOpReport {
  entry: HistoryEntry;
  errorKind?: ErrorKind;
}

/**
 * The chaos run's client processes: each runs client-worker.ts and reports every finished
 * operation here (`onOp`). Every process is tracked by pid and ended by stop() (asked
 * to stop, then killed after a grace period).
 */
export class ChaosClients {
  private readonly children: ChildProcess[] = [];
  private readonly exited: Promise<void>[] = [];

  constructor(
    private readonly onOp: (r: ClientOpReport) => void,
    private readonly onLog: (line: string) => void,
  ) {}

  /** Starts one client process per entry of `starts`. */
  start(starts: Omit<WorkerStart, 'type'>[]): void {
    for (const s of starts) {
      const child = spawn(process.execPath, [BIN, 'chaos-client'], {
        cwd: REPO,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        // A process group of its own: Ctrl-C reaches the parent only, which stops the clients in order.
        detached: true,
      });
      this.children.push(child);
      this.exited.push(new Promise((resolve) => child.once('exit', () => resolve())));
      child.on('message', (m: FromWorker) => {
        if (m.type === 'op') this.onOp({ entry: m.entry, ...(m.errorKind ? { errorKind: m.errorKind } : {}) });
        else if (m.type === 'log') this.onLog(m.line);
      });
      child.on('error', (err) => this.onLog(`client ${s.clientId}: ${err.message}`));
      this.send(child, { type: 'start', ...s });
    }
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  /**
   * Asks every client to finish its operation in flight and stop, waits up to `graceMs`
   * (an operation may take its whole timeout), then kills the ones still running.
   */
  async stop(graceMs: number): Promise<void> {
    for (const c of this.children) this.send(c, { type: 'stop' });
    const all = Promise.all(this.exited);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await all;
  }

  /** Kills every client at once (Ctrl-C, errors). */
  killAll(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  private send(child: ChildProcess, m: ToWorker): void {
    if (child.connected) child.send(m);
  }
}
