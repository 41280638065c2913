import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { channelOptions } from '../src/transport/proto.ts';
import { unary } from '../src/transport/unary.ts';
import { EtcdCluster } from './etcd/cluster.ts';
import type { BenchSystem, ConnectOptions } from './system.ts';
import { now, sleep, type Target } from './workload.ts';

const PROTO = fileURLToPath(new URL('./etcd/kv.proto', import.meta.url));

let kvCtor: grpc.ServiceClientConstructor | null = null;
function kvService(): grpc.ServiceClientConstructor {
  if (!kvCtor) {
    const def = protoLoader.loadSync(PROTO, { longs: String, defaults: true, enums: String });
    kvCtor = (grpc.loadPackageDefinition(def).etcdserverpb as grpc.GrpcObject).KV as grpc.ServiceClientConstructor;
  }
  return kvCtor;
}

/**
 * An etcd v3 client with the same behaviour as kvslib where it matters for the numbers:
 * one member at a time (any member serves: followers forward proposals and ReadIndex to
 * the leader), an attempt deadline after which it fails over to the next member, retries
 * until the operation deadline with the same 50 ms..500 ms backoff on answered errors
 * (e.g. "etcdserver: no leader"). The gRPC channel options are RaftKV's.
 */
class EtcdTarget implements Target {
  private readonly clients = new Map<string, grpc.Client>();
  private current: number;

  constructor(
    private readonly addrs: { name: string; addr: string }[],
    first: string,
    private readonly attemptTimeoutMs: number,
    private readonly opTimeoutMs: number,
  ) {
    this.current = Math.max(0, addrs.findIndex((a) => a.name === first));
  }

  async put(key: string, value: string): Promise<void> {
    await this.call('Put', { key: Buffer.from(key), value: Buffer.from(value) });
  }

  async get(key: string): Promise<void> {
    // serializable=false: a linearizable read, as RaftKV's get.
    await this.call('Range', { key: Buffer.from(key), serializable: false });
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(i: number): grpc.Client {
    const { name, addr } = this.addrs[i];
    let c = this.clients.get(name);
    if (!c) {
      const Ctor = kvService();
      c = new Ctor(addr, grpc.credentials.createInsecure(), channelOptions);
      this.clients.set(name, c);
    }
    return c;
  }

  private async call(method: 'Put' | 'Range', req: unknown): Promise<unknown> {
    const deadline = now() + this.opTimeoutMs;
    let lastError = 'no attempt made';
    for (let attempt = 0; now() < deadline; attempt++) {
      try {
        return await unary(this.client(this.current), method, req, Math.min(this.attemptTimeoutMs, Math.max(1, deadline - now())));
      } catch (err) {
        const e = err as grpc.ServiceError;
        lastError = `${this.addrs[this.current].name}: ${e.details || e.message}`;
        const answered = typeof e.details === 'string' && e.details.startsWith('etcdserver:');
        this.current = (this.current + 1) % this.addrs.length;
        if (answered) await sleep(Math.min(50 * 2 ** Math.min(attempt, 4), 500));
      }
    }
    throw new Error(`gave up after ${this.opTimeoutMs} ms: ${lastError}`);
  }
}

/** An etcd cluster as the harness drives it; connect() gives this file's Node client. */
export interface EtcdSystem extends BenchSystem {
  /** host:port a gRPC client (e.g. the Go load generator) dials for `member`. */
  clientAddr(member: string): string;
}

/** An n-member etcd cluster as a BenchSystem. */
export async function startEtcd(bin: string, n: number, root: string): Promise<EtcdSystem> {
  const cluster = await EtcdCluster.start(bin, n, root);
  const addrs = cluster.names.map((name) => ({ name, addr: cluster.clientAddr(name) }));
  const targets = new Set<EtcdTarget>();
  return {
    name: `etcd-${n}`,
    kind: 'etcd',
    members: cluster.names,
    clientAddr: (member) => cluster.clientAddr(member),
    async connect(c: ConnectOptions): Promise<Target> {
      const t = new EtcdTarget(addrs, c.memberId, c.attemptTimeoutMs, c.opTimeoutMs);
      targets.add(t);
      return {
        put: (k, v) => t.put(k, v),
        get: (k) => t.get(k),
        close: async () => {
          targets.delete(t);
          await t.close();
        },
      };
    },
    pids: () => cluster.pids(),
    leader: (timeoutMs) => cluster.leader(timeoutMs),
    kill: (name) => cluster.kill(name),
    restart: (name) => cluster.restart(name),
    async stop() {
      await Promise.allSettled([...targets].map((t) => t.close()));
      await cluster.stop();
    },
  };
}
