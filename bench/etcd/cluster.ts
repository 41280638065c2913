import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { onInterrupt, trackPids } from '../cleanup.ts';
import { freePorts } from '../system.ts';

export const ETCD_INSTALL_HINT = 'apt-get install etcd-server   (Debian/Ubuntu; puts etcd in /usr/bin)';

/**
 * The etcd binary: $ETCD_BIN, else `etcd` on PATH (the Debian package etcd-server).
 * BENCH_NO_ETCD=1 pretends it is absent (to exercise the no-etcd path).
 */
export function findEtcd(): { bin: string; version: string } | { bin: null; reason: string } {
  if (process.env.BENCH_NO_ETCD === '1') return { bin: null, reason: 'BENCH_NO_ETCD=1 (pretending etcd is not installed)' };
  const candidates = process.env.ETCD_BIN ? [process.env.ETCD_BIN] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'etcd'));
  for (const bin of candidates) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      continue;
    }
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const version = /etcd Version:\s*(\S+)/.exec(r.stdout ?? '')?.[1];
    if (r.status === 0 && version) return { bin, version };
  }
  return { bin: null, reason: 'etcd is not installed' };
}

interface Member {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child: ChildProcess | null;
  exited: Promise<void> | null;
  /** Should be running (false once killed or stopped on purpose). */
  wanted: boolean;
}

/**
 * An etcd cluster of real processes on free 127.0.0.1 ports with data in a temp dir
 * (etcd fsyncs its WAL on every commit by default, as RaftKV does). Every member is tracked
 * by pid and stopped by stop(), which callers run in `finally`.
 */
export class EtcdCluster {
  private readonly members: Member[];
  private stopped = false;
  private readonly untrack: () => void;
  private readonly offInterrupt: () => void;

  private constructor(
    private readonly bin: string,
    readonly dir: string,
    n: number,
    ports: number[],
  ) {
    this.members = Array.from({ length: n }, (_, i) => ({
      name: `etcd${i}`,
      clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
      peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
      dataDir: path.join(dir, `etcd${i}.etcd`),
      child: null,
      exited: null,
      wanted: false,
    }));
    this.untrack = trackPids(() => this.members.map((m) => m.child?.pid).filter((p): p is number => p !== undefined));
    this.offInterrupt = onInterrupt(() => this.stop());
  }

  static async start(bin: string, n: number, root: string): Promise<EtcdCluster> {
    mkdirSync(root, { recursive: true });
    const dir = mkdtempSync(path.join(root, `etcd-bench-${n}-`));
    const cluster = new EtcdCluster(bin, dir, n, await freePorts(2 * n));
    try {
      for (const m of cluster.members) cluster.spawnMember(m);
      await cluster.waitHealthy(30_000);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get names(): string[] {
    return this.members.map((m) => m.name);
  }

  pids(): number[] {
    return this.members.map((m) => m.child?.pid).filter((p): p is number => p !== undefined);
  }

  /** host:port a gRPC client dials for this member. */
  clientAddr(name: string): string {
    return this.member(name).clientUrl.replace('http://', '');
  }

  private spawnMember(m: Member): void {
    const initialCluster = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',');
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl,
      '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl,
      '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-token', path.basename(this.dir),
      '--initial-cluster-state', 'new', // ignored on restart: the data dir has a WAL
      '--logger', 'zap',
      '--log-level', 'warn',
    ];
    const log = openSync(path.join(this.dir, `${m.name}.log`), 'a');
    const child = spawn(this.bin, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    m.child = child;
    m.wanted = true;
    m.exited = new Promise((resolve) => child.once('exit', () => {
      if (m.child === child) m.child = null;
      resolve();
    }));
  }

  /** Waits until every running member reports healthy (has a leader, serves a quorum read). */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const up = this.members.filter((m) => m.child);
      if (up.length === 0) throw new Error(`every etcd member exited (logs in ${this.dir})`);
      const ok = await Promise.all(up.map((m) => httpText(`${m.clientUrl}/health`, 1000).then((t) => /"health"\s*:\s*"true"/.test(t), () => false)));
      if (ok.every(Boolean)) return;
      const died = this.members.find((m) => m.wanted && !m.child);
      if (died) throw new Error(`etcd member ${died.name} exited (log: ${path.join(this.dir, `${died.name}.log`)})`);
      await sleep(100);
    }
    throw new Error(`etcd cluster not healthy within ${timeoutMs} ms (logs in ${this.dir})`);
  }

  /** The member whose /metrics says etcd_server_is_leader 1, once exactly one does. */
  async leader(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const up = this.members.filter((m) => m.child);
      const flags = await Promise.all(up.map((m) => httpText(`${m.clientUrl}/metrics`, 1000).then((t) => /^etcd_server_is_leader 1$/m.test(t), () => false)));
      const leaders = up.filter((_, i) => flags[i]);
      if (leaders.length === 1) return leaders[0].name;
      await sleep(50);
    }
    throw new Error(`no etcd leader within ${timeoutMs} ms`);
  }

  async kill(name: string): Promise<void> {
    const m = this.member(name);
    m.wanted = false;
    if (!m.child) return;
    m.child.kill('SIGKILL');
    await m.exited;
  }

  async restart(name: string): Promise<void> {
    const m = this.member(name);
    if (m.child) throw new Error(`${name} is running`);
    this.spawnMember(m);
    await this.waitHealthy(30_000);
  }

  /** SIGTERM every member, SIGKILL after 3 s; removes the data. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.members.map(async (m) => {
      m.wanted = false;
      if (!m.child) return;
      const exited = m.exited;
      m.child.kill('SIGTERM');
      const t = setTimeout(() => m.child?.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }));
    this.untrack();
    this.offInterrupt();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`unknown etcd member ${name}`);
    return m;
  }
}

async function httpText(url: string, timeoutMs: number): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return res.text();
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
