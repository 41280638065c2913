/**
 * How long growing a cluster takes (Raft §6, thesis §4.2.1): a 3-server cluster on
 * 127.0.0.1 holds a log of N puts (distinct keys, 100-byte values, durable writes, default
 * compaction: a snapshot every 10,000 entries, 5,000 kept below it); then `member add`
 * (without --learner) adds server3, which is started with --join. Reported per N:
 *
 * - add -> promoted: from the MemberAdd call to its answer (learner committed, caught up
 *   within 1,000 entries, promoted through the joint configuration, C_new applied);
 * - ready -> promoted: the same, from the moment the joining process answers Status (so
 *   the process start, about a second of Node and tsx, is left out);
 * - whether the learner was sent a snapshot (the leader's log was compacted) and its size.
 *
 *   node --import tsx bench/join.ts                    # 10k and 100k entries
 *   node --import tsx bench/join.ts --entries 10000    # one size
 *
 * Not a test: nothing here asserts a speed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvClient } from '../src/client/kv-client.ts';
import { freePorts } from '../src/cluster/free-ports.ts';
import { ProcessCluster } from '../src/cluster/process-cluster.ts';
import { defaultConfig, writeConfig } from '../src/server/config.ts';
import { toolArgs } from './tool-args.ts';

const { values } = toolArgs('join', { options: { entries: { type: 'string', default: '10000,100000' }, workers: { type: 'string', default: '64' } } });
const sizes = values.entries.split(',').map(Number);
const workers = Number(values.workers);
if (!sizes.every((n) => Number.isInteger(n) && n >= 1) || !Number.isInteger(workers) || workers < 1) {
  console.error(`join: --entries takes positive integers separated by commas, --workers a positive integer (got "${values.entries}", "${values.workers}")`);
  process.exit(2);
}
const VALUE = 'x'.repeat(100);

/** One measurement: a fresh cluster with `n` puts, then one server added; times in ms. */
async function measure(n: number): Promise<{ n: number; loadMs: number; addMs: number; readyMs: number; snapshotIndex: number; lastIndex: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-join-'));
  const ports = await freePorts(4);
  const base = defaultConfig(3, 0, path.join(dir, 'data'));
  const config = { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })) };
  const file = writeConfig(path.join(dir, 'cluster.json'), config);
  const cluster = new ProcessCluster(config, file);
  const clients: KvClient[] = [];
  try {
    await Promise.all(config.servers.map((s) => cluster.start(s.id)));
    await cluster.waitForLeader();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        const c = await KvClient.start({ clientId: `load${w}`, servers: config.servers });
        clients.push(c);
        for (let i = next++; i < n; i = next++) await c.put(`key${i}`, VALUE);
      }),
    );
    const loadMs = performance.now() - t0;
    const leader = await cluster.waitForLeader();
    const addr = `127.0.0.1:${ports[3]}`;
    const tAdd = performance.now();
    const added = cluster.adminOf(leader).memberAdd('server3', addr, false, 600_000);
    while (!(await cluster.adminOf(leader).memberList()).members.some((m) => m.id === 'server3')) await new Promise((r) => setTimeout(r, 20));
    cluster.addServer('server3', addr);
    await cluster.start('server3', { args: ['--join', config.servers[0].addr] });
    const tReady = performance.now();
    const res = await added;
    const tDone = performance.now();
    if (!res.ok) throw new Error(`member add failed: ${res.code} ${res.error}`);
    const st = await cluster.status('server3');
    const leaderSt = await cluster.status(leader);
    return { n, loadMs, addMs: tDone - tAdd, readyMs: tDone - tReady, snapshotIndex: st.snapshotIndex, lastIndex: leaderSt.lastLogIndex };
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`join benchmark: 3 servers, N distinct-key puts (100-byte values, ${workers} writers), then member add server3 + node --join`);
console.log('entries   load (s)   add->promoted (s)   ready->promoted (s)   learner snapshot index   leader last index');
for (const n of sizes) {
  const r = await measure(n);
  console.log(
    `${String(r.n).padEnd(9)} ${(r.loadMs / 1000).toFixed(1).padStart(8)}   ${(r.addMs / 1000).toFixed(2).padStart(17)}   ${(r.readyMs / 1000).toFixed(2).padStart(19)}   ${String(r.snapshotIndex).padStart(22)}   ${String(r.lastIndex).padStart(17)}`,
  );
}
process.exit(0);
