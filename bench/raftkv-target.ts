import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { KvClient } from '../src/client/kv-client.ts';
import { ProcessCluster } from '../src/cluster/process-cluster.ts';
import { defaultConfig, writeConfig } from '../src/server/config.ts';
import { StartGuard } from './cleanup.ts';
import { freePorts, type BenchSystem, type ConnectOptions } from './system.ts';
import type { RunningTraceServer, TraceServerStarter } from './trace-server.ts';
import { waitForTraceBacklog } from './trace-backlog.ts';
import type { Target } from './workload.ts';

class RaftkvTarget implements Target {
  constructor(private readonly client: KvClient) {}
  async put(key: string, value: string): Promise<void> {
    await this.client.put(key, value);
  }
  async get(key: string): Promise<void> {
    await this.client.get(key);
  }
  close(): Promise<void> {
    return this.client.stop();
  }
}

interface RaftkvClusterOptions {
  servers: number;
  /** Parent of the cluster's temp dir (data must be on a real disk for fsync to cost). */
  root: string;
  /** Start a tracing server first and set config.traceServer to it. */
  traceServer?: TraceServerStarter;
  /** Extra environment for the server processes (e.g. NODE_OPTIONS=--cpu-prof). */
  env?: NodeJS.ProcessEnv;
}

/**
 * N `raftkv node` processes on free 127.0.0.1 ports, data (fsynced NeDB logs) in a fresh
 * temp dir, tracing off unless a trace server starter is given.
 */
export async function startRaftkv(o: RaftkvClusterOptions): Promise<BenchSystem> {
  mkdirSync(o.root, { recursive: true });
  const dir = mkdtempSync(path.join(o.root, `raftkv-bench-${o.servers}-`));
  let trace: RunningTraceServer | null = null;
  let cluster: ProcessCluster | null = null;
  let stopped = false;
  const clients = new Set<KvClient>();
  /** Clients connected with `keep`, by clientId (ConnectOptions.keep). */
  const kept = new Map<string, KvClient>();
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled([...clients].map((c) => c.stop()));
    if (cluster) await cluster.stopAll();
    if (trace) await trace.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const guard = new StartGuard(stop);
  try {
    if (o.traceServer) {
      const traceDir = path.join(dir, 'traces');
      mkdirSync(traceDir, { recursive: true });
      trace = await o.traceServer(traceDir);
    }
    const ports = await freePorts(o.servers);
    const base = defaultConfig(o.servers, 0, path.join(dir, 'data'));
    const config = { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })), traceServer: trace ? trace.addr : null };
    const file = writeConfig(path.join(dir, 'cluster.json'), config);
    // Every server starts at once: 7 of them (under tsx, when dist/ is not built) take well
    // over ProcessCluster's default 15 s to answer on 2 busy cores.
    const readyTimeoutMs = 15_000 + 5_000 * o.servers;
    const pc = new ProcessCluster(config, file, { readyTimeoutMs, ...(o.env ? { env: o.env } : {}) });
    cluster = pc;
    guard.track(() => pc.ids.map((id) => pc.pid(id)).filter((p): p is number => p !== undefined));
    await Promise.all(config.servers.map((s) => pc.start(s.id)));
    await pc.waitForLeader(readyTimeoutMs);
    const clientTraceServer = trace && trace.clientTraces !== false ? trace.addr : undefined;
    return {
      name: `raftkv-${o.servers}${trace ? '+trace' : ''}`,
      kind: 'raftkv',
      members: pc.ids,
      async connect(c: ConnectOptions): Promise<Target> {
        const reused = c.keep ? kept.get(c.clientId) : undefined;
        if (reused) {
          const target = new RaftkvTarget(reused);
          return { put: (k, v) => target.put(k, v), get: (k) => target.get(k), close: async () => {} };
        }
        const client = await KvClient.start({
          clientId: c.clientId,
          servers: config.servers,
          serverId: c.memberId,
          attemptTimeoutMs: c.attemptTimeoutMs,
          opTimeoutMs: c.opTimeoutMs,
          ...(clientTraceServer ? { traceServer: clientTraceServer } : {}),
        });
        clients.add(client);
        if (c.keep) kept.set(c.clientId, client);
        const target = new RaftkvTarget(client);
        return {
          put: (k, v) => target.put(k, v),
          get: (k) => target.get(k),
          // A kept client runs until the system stops (stop() above).
          close: async () => {
            if (c.keep) return;
            clients.delete(client);
            await target.close();
          },
        };
      },
      pids: () => [...pc.ids.map((id) => pc.pid(id)).filter((p): p is number => p !== undefined), ...(trace?.pids?.() ?? [])],
      ...(trace ? { settle: () => waitForTraceBacklog(trace!.addr) } : {}),
      leader: (timeoutMs = 15_000) => pc.waitForLeader(timeoutMs),
      kill: (id) => pc.kill(id, 'SIGKILL'),
      restart: async (id) => {
        await pc.start(id);
      },
      stop: () => guard.stop(),
    };
  } catch (err) {
    return guard.fail(err, path.join(dir, 'data', 'logs'));
  }
}

