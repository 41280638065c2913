import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { happensBefore } from '../../tracing/clock.ts';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { checkShiVizLog } from '../../tracing/check/shiviz-rules.ts';
import { readRunHistory } from '../../tracing/history-file.ts';
import { parseJsonl } from '../../tracing/shiviz.ts';
import type { TraceRecord } from '../../tracing/record.ts';
import { freePorts, startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
let collector: Collector | null = null;
let traceRoot: string | null = null;
afterEach(async () => {
  await tc?.teardown();
  await collector?.stop();
  if (traceRoot) rmSync(traceRoot, { recursive: true, force: true });
  tc = null;
  collector = null;
  traceRoot = null;
});

async function tracedCluster(n: number): Promise<{ tc: TestCluster; collector: Collector }> {
  traceRoot = mkdtempSync(path.join(os.tmpdir(), 'raftkv-trace-'));
  collector = await startCollector({ dir: path.join(traceRoot, 'run') });
  tc = await startTestCluster(n, (c) => ({ ...c, traceServer: collector!.addr }));
  return { tc, collector };
}

/** Stops clients and servers (their streams end), then reads what the tracing server wrote. */
async function finish(): Promise<{ records: TraceRecord[]; shiviz: string }> {
  await tc!.teardown();
  tc = null;
  collector!.flush();
  const { records, errors } = parseJsonl(readFileSync(path.join(collector!.dir, 'trace.jsonl'), 'utf8'));
  expect(errors).toEqual([]);
  return { records, shiviz: readFileSync(path.join(collector!.dir, 'shiviz.log'), 'utf8') };
}

const byTrace = (records: TraceRecord[], traceId: string) => records.filter((r) => r.traceId === traceId);

describe('end-to-end tracing on real processes', () => {
  it('the path of a Put holds every action in order under one trace id, and the log passes ShiViz', async () => {
    const { tc } = await tracedCluster(3);
    const leader = await tc.cluster.waitForLeader();
    const follower = tc.config.servers.find((s) => s.id !== leader)!.id;
    const c = await tc.client({ clientId: 'alice', serverId: follower, followLeader: false, traceServer: collector!.addr });
    const put = await c.put('k1', 'v1');
    const get = await c.get('k1');
    expect(get.value).toBe('v1');
    const { records, shiviz } = await finish();

    expect(checkShiVizLog(shiviz)).toEqual([]);
    const path1 = byTrace(records, `alice:${put.opId}`);
    const first = (tag: string, host?: string) => {
      const r = path1.find((x) => x.tag === tag && (!host || x.host === host));
      expect(r, `${tag}${host ? ` on ${host}` : ''}`).toBeDefined();
      return r!;
    };
    const chain = [
      first('PutStart', 'alice'),
      first('PutSend', 'alice'),
      first('PutRecv', follower),
      first('PutFwd', follower),
      first('PutRecv', leader),
      first('RaftPutReq', leader),
      first('Commit', leader),
      first('Apply', leader),
      first('PutResult', leader),
      first('PutResultFwd', follower),
      first('PutResultRecvd', 'alice'),
    ];
    for (let i = 1; i < chain.length; i++) {
      expect(happensBefore(chain[i - 1].clock, chain[i].clock), `${chain[i - 1].tag} -> ${chain[i].tag}`).toBe(true);
    }
    expect(path1.filter((r) => r.tag === 'Apply').map((r) => r.host).sort()).toEqual(tc.config.servers.map((s) => s.id).sort());
    const getPath = byTrace(records, `alice:${get.opId}`).map((r) => r.tag);
    for (const tag of ['GetStart', 'GetSend', 'GetRecv', 'GetFwd', 'GetResult', 'GetResultFwd', 'GetResultRecvd']) expect(getPath).toContain(tag);
    const alice = records.filter((r) => r.host === 'alice').sort((a, b) => a.clock.alice - b.clock.alice);
    expect(alice[0].tag).toBe('KvslibStart');
    expect(alice.at(-1)!.tag).toBe('KvslibStop');
    for (const id of tc.config.servers.map((s) => s.id)) {
      const own = records.filter((r) => r.host === id).sort((a, b) => a.clock[id] - b.clock[id]);
      expect(own.slice(0, 3).map((r) => r.tag)).toEqual(['ServerStart', 'RaftStart', 'ServerListening']);
    }
    const history = readRunHistory(collector!.dir)!.entries as { opId: number; output?: { value: string } }[];
    expect(history.map((h) => [h.opId, h.output?.value])).toEqual([
      [put.opId, 'v1'],
      [get.opId, 'v1'],
    ]);
  });

  it('a restarted server continues its clock, even after kill -9', async () => {
    const { tc } = await tracedCluster(3);
    await tc.cluster.waitForLeader();
    const c = await tc.client({ clientId: 'bob', traceServer: collector!.addr });
    await c.put('a', '1');
    const victim = 'server1';
    await tc.cluster.kill(victim);
    await c.put('b', '2');
    await tc.cluster.start(victim);
    await tc.cluster.waitFor(victim, (s) => s.leaderId !== '', 10_000, `${victim} to rejoin`);
    await c.put('c', '3');
    const { records, shiviz } = await finish();
    expect(checkShiVizLog(shiviz)).toEqual([]);
    const starts = records.filter((r) => r.host === victim && r.tag === 'ServerStart');
    expect(starts).toHaveLength(2);
    expect(starts[1].clock[victim]).toBeGreaterThan(starts[0].clock[victim] + 1);
  });

  it('the connected server is killed mid-Put: the client fails over and nothing is applied twice', async () => {
    const { tc } = await tracedCluster(3);
    const leader = await tc.cluster.waitForLeader();
    const entry = tc.config.servers.find((s) => s.id !== leader)!.id;
    const c = await tc.client({ clientId: 'carol', serverId: entry, traceServer: collector!.addr, attemptTimeoutMs: 500 });
    await c.put('warm', 'up');
    const puts = Array.from({ length: 20 }, (_, i) => c.put(`k${i}`, `v${i}`));
    await tc.cluster.kill(entry);
    const results = await Promise.all(puts);
    expect(results.map((r) => r.opId)).toEqual([...results.map((r) => r.opId)].sort((a, b) => a - b));
    const d = await tc.client({ serverId: leader });
    expect((await d.mget(results.map((_, i) => `k${i}`))).values).toEqual(results.map((_, i) => `v${i}`));
    const { records, shiviz } = await finish();
    expect(checkShiVizLog(shiviz)).toEqual([]);
    expect(records.filter((r) => r.host === 'carol' && r.tag === 'NewServerConnection').length).toBeGreaterThanOrEqual(2);
    // Exactly once: per server, one executed Apply per (clientId, opId).
    const applied = new Map<string, number>();
    for (const r of records.filter((x) => x.tag === 'Apply' && x.body.clientId === 'carol' && !x.body.duplicate)) {
      const key = `${r.host}/${r.body.opId}`;
      applied.set(key, (applied.get(key) ?? 0) + 1);
    }
    expect([...applied.values()].every((n) => n === 1)).toBe(true);
    expect(applied.size).toBeGreaterThan(0);
  });

  it('pipelined operations on one key come back in call order', async () => {
    const { tc } = await tracedCluster(3);
    await tc.cluster.waitForLeader();
    const c = await tc.client({ clientId: 'dave', traceServer: collector!.addr });
    const order: number[] = [];
    c.on('result', (o: { opId: number; key: string }) => {
      if (o.key === 'k') order.push(o.opId);
    });
    const ops = [];
    for (let i = 0; i < 10; i++) {
      ops.push(c.put('k', `v${i}`));
      ops.push(c.get('k'));
    }
    const results = await Promise.all(ops);
    expect(order).toEqual(results.map((r) => r.opId));
    for (let i = 0; i < 10; i++) expect(results[2 * i + 1].value).toBe(`v${i}`);
  });

  it('a client that cannot reach its tracing server at start records nothing and names nothing: the run stays a valid ShiViz log', async () => {
    const { tc } = await tracedCluster(3);
    await tc.cluster.waitForLeader();
    const [port] = await freePorts(1); // nothing listens there
    const lost = await tc.client({ clientId: 'lost', traceServer: `127.0.0.1:${port}` });
    const seen = await tc.client({ clientId: 'seen', traceServer: collector!.addr });
    for (let i = 0; i < 5; i++) {
      await lost.put(`l${i}`, 'x');
      await seen.put(`s${i}`, 'y');
    }
    expect((await seen.get('l4')).value).toBe('x');
    const { records, shiviz } = await finish();
    // Before, its tokens made the servers' clocks name "lost", a host with no events, and
    // ShiViz refused the whole log (unknown-host at every later server event).
    expect(records.filter((r) => r.host === 'lost')).toEqual([]);
    expect(records.some((r) => 'lost' in r.clock)).toBe(false);
    expect(checkShiVizLog(shiviz)).toEqual([]);
  });
});
