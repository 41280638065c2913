import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdCluster, findEtcd } from '../../bench/etcd/cluster.ts';
import { buildLoadgen, findGoToolchain } from '../../bench/etcd/loadgen-build.ts';
import { runGoLoad, type GoLoadOptions, type GoLoadResult } from '../../bench/etcd/loadgen-run.ts';
import { freePorts } from '../../src/cluster/free-ports.ts';

/**
 * The benchmark's etcd load generator (bench/etcd/loadgen, etcd's Go client) against a
 * real 1-member etcd on free ports. Needs Go, etcd's client source and etcd
 * (apt-get install golang-go golang-etcd-server-dev etcd-server); skipped, with the reason
 * in the test name, without them. The binary is cached where `npm run bench` keeps it
 * (<tmpdir>/raftkv-bench-go), so only the first run ever pays the build (~20-80 s).
 */
const etcd = findEtcd();
const go = findGoToolchain();
const missing = etcd.bin === null ? etcd.reason : go.go === null ? go.reason : null;
const suffix = missing ? ` (skipped: ${missing})` : '';

const KEYS = 50;

describe('etcd load generator (Go client)', () => {
  let dir = '';
  let cluster: EtcdCluster | null = null;
  let bin = '';
  let addr = '';

  beforeAll(async () => {
    if (missing || etcd.bin === null) return;
    const built = await buildLoadgen(os.tmpdir(), () => {});
    if (built.bin === null) throw new Error(built.reason);
    bin = built.bin;
    dir = mkdtempSync(path.join(os.tmpdir(), 'loadgen-test-'));
    cluster = await EtcdCluster.start(etcd.bin, 1, dir);
    addr = cluster.clientAddr(cluster.names[0]);
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const load = (o: Partial<GoLoadOptions>): GoLoadOptions => ({
    endpoints: [addr],
    clients: 2,
    concurrency: 8,
    op: 'put',
    warmupMs: 200,
    durationMs: 1500,
    keys: KEYS,
    valueBytes: 64,
    seed: 1,
    opTimeoutMs: 5000,
    dialTimeoutMs: 5000,
    ...o,
  });

  const expectSane = (r: GoLoadResult) => {
    expect(r.errors, r.firstError).toBe(0);
    expect(r.ops).toBeGreaterThan(0);
    expect(r.windowMs).toBeGreaterThan(0);
    expect(r.opsPerSec).toBeCloseTo((r.ops * 1000) / r.windowMs, 6);
    expect(r.p50).toBeGreaterThan(0);
    expect(r.p50).toBeLessThanOrEqual(r.p90);
    expect(r.p90).toBeLessThanOrEqual(r.p99);
    expect(r.p99).toBeLessThanOrEqual(r.max);
    expect(r.cpuSec).toBeGreaterThan(0);
    expect(r.cpuSec).toBeLessThanOrEqual(r.cpuTotalSec);
  };

  it.skipIf(missing !== null)(`puts for 1.5 s: a sane result line, window marks in order, and the keys are in etcd${suffix}`, async () => {
    const edges: string[] = [];
    const r = await runGoLoad(bin, load({ op: 'put' }), (e) => edges.push(e));
    expectSane(r);
    expect(r).toMatchObject({ op: 'put', conc: 8, clients: 2 });
    expect(edges).toEqual(['open', 'close']);
    // The writes happened: count the keys through etcd's JSON gateway (base64 keys).
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const res = await fetch(`http://${addr}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64('key'), range_end: b64('kez'), count_only: true }) });
    const count = Number(((await res.json()) as { count?: string }).count ?? 0);
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThanOrEqual(KEYS);
  }, 30_000);

  it.skipIf(missing !== null)(`gets for 1 s without marks: a sane result line${suffix}`, async () => {
    const r = await runGoLoad(bin, load({ op: 'get', durationMs: 1000, concurrency: 4, clients: 1 }));
    expectSane(r);
    expect(r).toMatchObject({ op: 'get', conc: 4, clients: 1 });
  }, 30_000);

  it.skipIf(missing !== null)(`an endpoint nobody listens on: rejects with the client's error${suffix}`, async () => {
    const [port] = await freePorts(1);
    await expect(runGoLoad(bin, load({ endpoints: [`127.0.0.1:${port}`], dialTimeoutMs: 300 }))).rejects.toThrow(/exited with 1[\s\S]*client 0 to 127\.0\.0\.1:\d+/);
  }, 30_000);

  it('without Go (BENCH_NO_GO=1) the build is skipped with the reason, not an error', async () => {
    const saved = process.env.BENCH_NO_GO;
    process.env.BENCH_NO_GO = '1';
    try {
      const r = await buildLoadgen(os.tmpdir(), () => {});
      expect(r.bin).toBeNull();
      expect(r.bin === null && r.reason).toMatch(/BENCH_NO_GO=1/);
    } finally {
      if (saved === undefined) delete process.env.BENCH_NO_GO;
      else process.env.BENCH_NO_GO = saved;
    }
  });
});
