/**
 * What one put costs at concurrency 1, per stage of its path, on a real 3-server cluster:
 * `node --import tsx bench/put-cost.ts [puts] [--strace]`.
 *
 * Throughput on a shared machine is noise; these are per-operation costs that hold up
 * under load (issue 18). For a client on a follower (its put forwarded to the leader,
 * `F`) and one on the leader (`L`), `puts` sequential puts (default 300) after a warm-up:
 * - latency p50/p90 in ms, as the client sees it (F - L: the forwarding hop);
 * - CPU in µs per put of the leader and of each follower (/proc/<pid>/stat: user + system,
 *   threads included, so fsync time in the kernel counts);
 * - bytes each server's data dir grew by per put (log.db, state.db);
 * - with --strace, system calls per put on each server, counted by `strace -c -f`
 *   (fdatasync/fsync: disk flushes; epoll_wait: event-loop turns; write/writev: socket
 *   and file writes). strace slows the servers, so the latency rows run without it.
 *
 * Not part of `npm run bench`: a tool for comparing two builds (run it from each tree).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvClient } from '../src/client/kv-client.ts';
import { ProcessCluster } from '../src/cluster/process-cluster.ts';
import { defaultConfig, writeConfig } from '../src/server/config.ts';
import { freePorts } from './system.ts';
import { toolArgs } from './tool-args.ts';

const { values, positionals } = toolArgs('put-cost', { allowPositionals: true, options: { strace: { type: 'boolean', default: false } } });
const puts = Number(positionals[0] ?? 300);
const withStrace = values.strace;
if (positionals.length > 1 || !Number.isInteger(puts) || puts < 1) {
  console.error(`put-cost: takes one positive integer of puts and --strace (got "${positionals.join(' ')}")`);
  process.exit(2);
}
const TICK_US = 1e6 / 100; // /proc stat clock ticks (USER_HZ 100 on Linux)

function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US; // utime, stime (fields 14, 15)
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const st = statSync(p);
    total += st.isDirectory() ? dirBytes(p) : st.size;
  }
  return total;
}

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

/** strace -c -f on `pid` until stop(); the counts per system call. */
function straceCounts(pid: number, out: string): { stop: () => Promise<Map<string, number>> } {
  const child: ChildProcess = spawn('strace', ['-c', '-f', '-e', 'trace=fdatasync,fsync,epoll_wait,epoll_pwait,write,writev', '-o', out, '-p', String(pid)], { stdio: 'ignore' });
  return {
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => {
          const counts = new Map<string, number>();
          for (const line of readFileSync(out, 'utf8').split('\n')) {
            const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/.exec(line);
            if (m) counts.set(m[2], Number(m[1]));
          }
          resolve(counts);
        });
        child.kill('SIGINT');
      }),
  };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-put-cost-'));
const ports = await freePorts(3);
const base = defaultConfig(3, 0, path.join(dir, 'data'));
const config = { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })), traceServer: null };
const pc = new ProcessCluster(config, writeConfig(path.join(dir, 'cluster.json'), config), { readyTimeoutMs: 60_000 });
const clients: KvClient[] = [];
try {
  await Promise.all(config.servers.map((s) => pc.start(s.id)));
  const leader = await pc.waitForLeader(30_000);
  const followers = pc.ids.filter((id) => id !== leader);
  const pids = new Map(pc.ids.map((id) => [id, pc.pid(id)!]));
  console.log(`put-cost: ${puts} sequential puts of 64 bytes per row, leader ${leader}, ${os.cpus().length} cpus, load ${os.loadavg()[0].toFixed(2)}`);
  console.log('row  p50 ms  p90 ms  cpu us/put leader  follower-a  follower-b  bytes/put leader  follower');
  for (const [row, serverId] of [['F', followers[0]], ['L', leader]] as const) {
    const c = await KvClient.start({ clientId: `cost-${row}`, servers: config.servers, serverId, followLeader: false } as Parameters<typeof KvClient.start>[0]);
    clients.push(c);
    for (let i = 0; i < 30; i++) await c.put(`warm-${i}`, 'x'.repeat(64));
    const cpu0 = new Map([...pids].map(([id, pid]) => [id, cpuUs(pid)]));
    const bytes0 = new Map(pc.ids.map((id) => [id, dirBytes(path.join(config.dataDir, id))]));
    const lat: number[] = [];
    for (let i = 0; i < puts; i++) {
      const t = performance.now();
      await c.put(`key-${i}`, 'v'.repeat(64));
      lat.push(performance.now() - t);
    }
    const perPut = (id: string) => (cpuUs(pids.get(id)!) - cpu0.get(id)!) / puts;
    const grew = (id: string) => (dirBytes(path.join(config.dataDir, id)) - bytes0.get(id)!) / puts;
    lat.sort((a, b) => a - b);
    console.log(
      `${row.padEnd(4)} ${pct(lat, 0.5).toFixed(2).padStart(6)}  ${pct(lat, 0.9).toFixed(2).padStart(6)}  ${perPut(leader).toFixed(0).padStart(17)}  ${perPut(followers[0]).toFixed(0).padStart(10)}  ${perPut(followers[1]).toFixed(0).padStart(10)}  ${grew(leader).toFixed(0).padStart(16)}  ${grew(followers[0]).toFixed(0).padStart(8)}`,
    );
    if (withStrace) {
      const traced = pc.ids.map((id) => ({ id, s: straceCounts(pids.get(id)!, path.join(dir, `strace-${row}-${id}.txt`)) }));
      await new Promise((r) => setTimeout(r, 500)); // let strace attach before counting
      const n = Math.min(puts, 200);
      for (let i = 0; i < n; i++) await c.put(`strace-${i}`, 'v'.repeat(64));
      for (const { id, s } of traced) {
        const counts = await s.stop();
        const per = (name: string) => ((counts.get(name) ?? 0) / n).toFixed(2);
        console.log(`  ${row} strace ${id === leader ? 'leader  ' : 'follower'} ${id}: per put fdatasync ${per('fdatasync')} fsync ${per('fsync')} epoll_wait ${per('epoll_wait')}/${per('epoll_pwait')} write ${per('write')} writev ${per('writev')}`);
      }
    }
  }
} finally {
  await Promise.allSettled(clients.map((c) => c.stop()));
  await pc.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
