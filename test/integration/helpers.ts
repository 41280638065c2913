import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvClient, type ClientOptions } from '../../src/client/kv-client.ts';
import { freePorts } from '../../src/cluster/free-ports.ts';
import { ProcessCluster } from '../../src/cluster/process-cluster.ts';
import { defaultConfig, writeConfig, type ClusterConfig } from '../../src/server/config.ts';

export { freePorts };

export interface TestCluster {
  cluster: ProcessCluster;
  config: ClusterConfig;
  dir: string;
  client(opts?: Partial<ClientOptions>): Promise<KvClient>;
  /** Stops every process and client it started, and removes its temp dir. */
  teardown(): Promise<void>;
}

/** N real server processes on free loopback ports with data in a fresh temp dir. */
export async function startTestCluster(
  n: number,
  tweak: (c: ClusterConfig) => ClusterConfig = (c) => c,
  clusterOpts: ConstructorParameters<typeof ProcessCluster>[2] = {},
): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-it-'));
  const ports = await freePorts(n);
  const base = defaultConfig(n, 0, path.join(dir, 'data'));
  const config = tweak({ ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })) });
  const file = writeConfig(path.join(dir, 'cluster.json'), config);
  const cluster = new ProcessCluster(config, file, clusterOpts);
  const clients: KvClient[] = [];
  let n2 = 0;
  const tc: TestCluster = {
    cluster,
    config,
    dir,
    async client(opts = {}) {
      const c = await KvClient.start({ clientId: `tc${n2++}`, servers: config.servers, ...opts });
      clients.push(c);
      return c;
    },
    async teardown() {
      await Promise.all(clients.map((c) => c.stop()));
      await cluster.stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(config.servers.map((s) => cluster.start(s.id)));
  } catch (err) {
    await tc.teardown();
    throw err;
  }
  return tc;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const cliChildren = new Set<ChildProcess>();

/** Runs `raftkv <args>` as a user would, from the repo root; SIGKILLed after `timeoutMs` if it hangs. `onSpawn` gets the process (to signal it). */
export function runRaftkv(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; onSpawn?: (child: ChildProcess) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/raftkv.ts', ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    cliChildren.add(child);
    // A test that signals the CLI (Ctrl-C) gets its process.
    opts.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      cliChildren.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Kills (by pid) any CLI process a test started that is still running. */
export function killCliChildren(): void {
  for (const child of cliChildren) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  cliChildren.clear();
}
