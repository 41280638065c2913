import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientOptions, OpOutcome } from '../src/client/kv-client.ts';
import type { ClientOp, KeyValue } from '../src/kv/command.ts';
import type { FromClient, ToClient } from './client-process.ts';

const ENTRY = fileURLToPath(new URL('./client-process.ts', import.meta.url));

/** The answer to one operation: its outcome, and the error message if it failed. */
export interface Answer {
  outcome: OpOutcome;
  error?: string;
}

/** A kvslib client running in a child process, with kvslib's own API over IPC. */
export class RemoteClient {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (a: Answer) => void>();
  private nextId = 1;
  private exited: Promise<void>;
  serverId = '';

  private constructor(readonly clientId: string) {
    this.child = fork(ENTRY, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.on('message', (m: FromClient) => {
      if (m.type === 'result') {
        this.waiting.get(m.id)?.({ outcome: m.outcome, ...(m.error ? { error: m.error } : {}) });
        this.waiting.delete(m.id);
      }
    });
  }

  static async start(opts: ClientOptions): Promise<RemoteClient> {
    const c = new RemoteClient(opts.clientId);
    const reply = await c.request<FromClient>({ type: 'start', opts }, (m) => m.type === 'started' || m.type === 'startFailed');
    if (reply.type === 'startFailed') {
      await c.kill();
      throw new Error(`client ${opts.clientId} failed to start: ${reply.error}`);
    }
    if (reply.type === 'started') c.serverId = reply.serverId;
    return c;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the outcome whether the operation succeeded or failed. */
  execute(op: ClientOp): Promise<Answer> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.send({ type: 'op', id, op });
    });
  }

  put(key: string, value: string): Promise<Answer> {
    return this.execute({ type: 'put', key, value });
  }
  get(key: string): Promise<Answer> {
    return this.execute({ type: 'get', key });
  }
  incr(key: string): Promise<Answer> {
    return this.execute({ type: 'incr', key });
  }
  mput(pairs: KeyValue[]): Promise<Answer> {
    return this.execute({ type: 'mput', pairs });
  }

  /** kvslib's stop(): pending operations settle, KvslibStop is recorded, the process exits. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return;
    await this.request({ type: 'stop' }, (m) => m.type === 'stopped');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 3000))]);
    await this.kill();
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private send(m: ToClient): void {
    this.child.send(m);
  }

  private request<T extends FromClient>(m: ToClient, match: (r: FromClient) => boolean): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (r: FromClient) => {
        if (!match(r)) return;
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
        resolve(r as T);
      };
      const onExit = () => reject(new Error(`client ${this.clientId} exited`));
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.send(m);
    });
  }
}
