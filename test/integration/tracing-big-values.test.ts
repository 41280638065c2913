import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { checkShiVizLog } from '../../tracing/check/shiviz-rules.ts';
import { readRunHistory } from '../../tracing/history-file.ts';
import { parseJsonl } from '../../tracing/shiviz.ts';
import { startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
let collector: Collector | null = null;
let root: string | null = null;
afterEach(async () => {
  await tc?.teardown();
  await collector?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
  [tc, collector, root] = [null, null, null];
});

it('records of big values reach the tracing server: no stream message over its limit, and none resent forever', async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-trace-'));
  collector = await startCollector({ dir: path.join(root, 'run') });
  const addr = collector.addr;
  tc = await startTestCluster(3, (c) => ({ ...c, traceServer: addr }));
  const leader = await tc.cluster.waitForLeader();
  // Long attempts: on a loaded machine 2 s attempts time out and every retry records the
  // 393 KB value again (hundreds of MB of trace), which is not what this test is about.
  const c = await tc.client({ clientId: 'big', serverId: leader, traceServer: addr, opTimeoutMs: 60_000, attemptTimeoutMs: 60_000 });
  // 12 puts in one turn: their PutStart and PutSend records (393 KB of JSON each) were one
  // 9.4 MB message, which a tracing server with gRPC's 4 MiB default refused, again and again.
  // Not more: every record of an operation carries its value, and on a loaded machine a few
  // leader changes retry them all, so 20 puts reached a trace.jsonl too big to read as one string.
  const PUTS = 12;
  const NULS = '\u0000'.repeat(65536);
  await Promise.all(Array.from({ length: PUTS }, (_, i) => c.put(`k${i}`, NULS)));
  expect((await c.get('k7')).value).toBe(NULS);
  await tc.teardown();
  tc = null;
  collector.flush();
  const { records, errors } = parseJsonl(readFileSync(path.join(collector.dir, 'trace.jsonl'), 'utf8'));
  expect(errors.slice(0, 3).map((e) => JSON.stringify(e).slice(0, 300))).toEqual([]);
  expect(records.filter((r) => r.host === 'big' && r.tag === 'PutResultRecvd')).toHaveLength(PUTS);
  // Every operation's receive on the leader, value and all (slow attempts may repeat it).
  const recv = records.filter((r) => r.host === leader && r.tag === 'PutRecv' && r.body.value === NULS);
  expect(new Set(recv.map((r) => r.body.opId)).size).toBe(PUTS);
  expect(checkShiVizLog(readFileSync(path.join(collector.dir, 'shiviz.log'), 'utf8'))).toEqual([]);
  const history = readRunHistory(collector.dir)!.entries;
  expect(history).toHaveLength(PUTS + 1);
}, 120_000);
