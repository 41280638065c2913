import type { OpOutcome } from '../../src/client/kv-client.ts';
import { ClientError } from '../../src/client/kv-client.ts';
import type { ClientOp } from '../../src/kv/command.ts';
import type { ServerEntry } from '../../src/server/config.ts';
import type { WireStatus } from '../../src/transport/wire.ts';
import { Controller } from '../../src/tui/controller.ts';
import type { ClusterControl, ControllerDeps, KvOps } from '../../src/tui/deps.ts';

export const SERVERS: ServerEntry[] = ['server0', 'server1', 'server2'].map((id, i) => ({ id, addr: `127.0.0.1:${7100 + i}` }));

/** An in-memory cluster: a leader, a key-value map, and processes that only change a flag. */
export class FakeCluster implements ClusterControl {
  readonly states = new Map<string, 'up' | 'down' | 'paused'>();
  leader = 'server1';
  term = 2;
  commit = 5;
  blocked = new Map<string, string[]>();
  readonly calls: string[] = [];
  failNext: string | null = null;

  constructor(readonly servers: ServerEntry[] = SERVERS) {
    for (const s of servers) this.states.set(s.id, 'up');
  }

  get ids(): string[] {
    return this.servers.map((s) => s.id);
  }
  state(id: string) {
    return this.states.get(id)!;
  }
  pid(id: string) {
    return this.state(id) === 'down' ? undefined : 1000 + this.ids.indexOf(id);
  }
  private check(what: string) {
    this.calls.push(what);
    if (this.failNext) {
      const msg = this.failNext;
      this.failNext = null;
      throw new Error(msg);
    }
  }
  async kill(id: string) {
    this.check(`kill ${id}`);
    this.states.set(id, 'down');
    if (id === this.leader) this.elect();
  }
  async restart(id: string) {
    this.check(`restart ${id}`);
    this.states.set(id, 'up');
  }
  pause(id: string) {
    this.check(`pause ${id}`);
    this.states.set(id, 'paused');
  }
  resume(id: string) {
    this.check(`resume ${id}`);
    this.states.set(id, 'up');
  }
  async partition(groups: string[][]) {
    this.check(`partition ${JSON.stringify(groups)}`);
    const [alone, rest] = groups;
    this.blocked.set(alone[0], rest);
    for (const r of rest) this.blocked.set(r, alone);
  }
  async heal() {
    this.check('heal');
    this.blocked.clear();
  }
  /** The next live server leads, one term later. */
  elect() {
    const next = this.ids.find((id) => this.state(id) === 'up');
    this.leader = next ?? '';
    this.term++;
  }
  status(id: string): WireStatus {
    if (this.state(id) !== 'up') throw new Error(`${id} does not answer`);
    return {
      serverId: id,
      role: id === this.leader ? 'leader' : 'follower',
      term: this.term,
      leaderId: this.leader,
      commitIndex: this.commit,
      appliedIndex: this.commit,
      lastLogIndex: this.commit,
      peers: this.ids.filter((p) => p !== id).map((p) => ({ id: p, addr: '', matchIndex: 0, nextIndex: 0, blocked: (this.blocked.get(id) ?? []).includes(p) })),
      lastContactMs: id === this.leader ? 0 : 42,
      pid: this.pid(id)!,
      loopStallMs: 0,
      loopStallWorstMs: 0,
      snapshotIndex: 0,
      firstLogIndex: 1,
      logBytes: 2048,
      rssBytes: 64 * 1024 * 1024,
      heapUsedBytes: 16 * 1024 * 1024,
    };
  }
}

/** A KV client over a Map; `gate` holds operations until released. */
export class FakeKv implements KvOps {
  readonly data = new Map<string, string>();
  opId = 0;
  stopped = false;
  gate: Promise<void> | null = null;
  constructor(private readonly cluster: FakeCluster) {}

  async execute(op: ClientOp): Promise<OpOutcome> {
    const opId = ++this.opId;
    if (this.gate) await this.gate;
    const base = { opId, op: op.type, key: 'key' in op ? op.key : '', latencyMs: 3.25, servedBy: this.cluster.leader };
    switch (op.type) {
      case 'get':
        return { ...base, value: this.data.get(op.key) ?? '' };
      case 'put':
        this.data.set(op.key, op.value);
        return { ...base, value: op.value };
      case 'delete': {
        const v = this.data.get(op.key) ?? '';
        this.data.delete(op.key);
        return { ...base, value: v };
      }
      case 'incr': {
        const cur = this.data.get(op.key) ?? '0';
        if (!/^-?\d+$/.test(cur)) throw new ClientError(`incr: the value of "${op.key}" is not a base-10 integer`, { ...base, value: '', failed: true, error: 'x' });
        const v = String(Number(cur) + 1);
        this.data.set(op.key, v);
        return { ...base, value: v };
      }
      case 'expire':
        return { ...base, value: this.data.has(op.key) ? '1' : '0' };
      case 'mget':
        return { ...base, value: '', values: op.keys.map((k) => this.data.get(k) ?? '') };
      case 'mput':
        for (const p of op.pairs) this.data.set(p.key, p.value);
        return { ...base, value: String(op.pairs.length) };
    }
  }
  async stop() {
    this.stopped = true;
  }
}

export interface Fixture {
  cluster: FakeCluster;
  kv: FakeKv;
  controller: Controller;
  quits: number;
}

/** A controller over the fakes; `launched: false` gives an attached one (no cluster control). */
export function fixture(opts: { launched?: boolean; connect?: ControllerDeps['connect'] } = {}): Fixture {
  const cluster = new FakeCluster();
  const kv = new FakeKv(cluster);
  const f: Fixture = { cluster, kv, controller: null as unknown as Controller, quits: 0 };
  f.controller = new Controller({
    servers: SERVERS,
    cluster: opts.launched === false ? null : cluster,
    connect: opts.connect ?? (async () => kv),
    status: async (id) => cluster.status(id),
    trace: async () => ({ dir: 'traces/tui-test', addr: '127.0.0.1:7200', clientId: 'tui-1' }),
    configPath: 'data/cluster.json',
    onQuit: () => f.quits++,
  });
  return f;
}

/** Polls `cond` every 10 ms until it holds; fails after `timeoutMs` with `what`. */
export async function waitFor(cond: () => boolean, what: string | (() => string), timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Whether a process with this pid still exists (signal 0 only checks). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
