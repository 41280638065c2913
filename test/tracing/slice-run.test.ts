import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { happensBefore } from '../../tracing/clock.ts';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { checkShiVizLog } from '../../tracing/check/shiviz-rules.ts';
import { parseJsonl, parseShiViz, type JsonlRecord } from '../../tracing/shiviz.ts';
import type { Selection } from '../../tracing/slice/selection.ts';
import { sliceRun } from '../../tracing/slice/slice-run.ts';
import { startTestCluster, type TestCluster } from '../integration/helpers.ts';

/**
 * Slices of a real run: a traced 3-server cluster and two clients writing concurrently,
 * recorded by a real tracing server. Each slice must pass ShiViz's strict checks and keep
 * happens-before between every pair of kept events as the full run's clocks have it; the
 * expected selection is computed here with a plain filter over trace.jsonl.
 */

let tc: TestCluster | null = null;
let collector: Collector | null = null;
let root = '';
let runDir = '';
let records: JsonlRecord[] = [];
const traceIds: string[] = [];

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-slice-'));
  collector = await startCollector({ dir: path.join(root, 'run') });
  tc = await startTestCluster(3, (c) => ({ ...c, traceServer: collector!.addr }));
  await tc.cluster.waitForLeader();
  const clients = await Promise.all(['alice', 'bob'].map((clientId) => tc!.client({ clientId, traceServer: collector!.addr })));
  await Promise.all(
    clients.map(async (c, n) => {
      for (let i = 0; i < 15; i++) {
        const out = await c.put(`k${i % 4}`, `${n}-${i}`);
        traceIds.push(`${n === 0 ? 'alice' : 'bob'}:${out.opId}`);
      }
      await c.get('k1');
    }),
  );
  await tc.teardown();
  tc = null;
  collector.flush();
  runDir = collector.dir;
  const parsed = parseJsonl(readFileSync(path.join(runDir, 'trace.jsonl'), 'utf8'));
  expect(parsed.errors).toEqual([]);
  records = parsed.records;
}, 120_000);

afterAll(async () => {
  await tc?.teardown();
  await collector?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Slices with `selection`, then checks the log against the expected kept records (in trace.jsonl order). */
async function expectSlice(selection: Selection, expected: JsonlRecord[]): Promise<void> {
  expect(expected.length, 'the test selects something').toBeGreaterThan(0);
  const out = path.join(root, `slice-${Math.random().toString(36).slice(2)}.log`);
  const result = await sliceRun(runDir, selection, out);
  expect(result.total).toBe(records.length);
  expect(result.kept).toBe(expected.length);
  const text = readFileSync(out, 'utf8');
  expect(checkShiVizLog(text)).toEqual([]);

  const { events } = parseShiViz(text);
  expect(events.map((e) => `${e.host} ${e.tag}`)).toEqual(expected.map((r) => `${r.host} ${r.tag}`));
  events.forEach((e, i) => expect(e.body).toEqual(expected[i].traceId ? { ...expected[i].body, traceId: expected[i].traceId } : expected[i].body));
  // Every pair when small, else a deterministic sample of pairs.
  const n = events.length;
  const step = n > 300 ? 7 : 1;
  const wrong: string[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i % step; j < n; j += step) {
      if (i === j) continue;
      const before = happensBefore(expected[i].clock, expected[j].clock);
      if (happensBefore(events[i].clock, events[j].clock) !== before) wrong.push(`line ${expected[i].line} -> line ${expected[j].line}: was ${before}`);
    }
  }
  expect(wrong).toEqual([]);
}

describe('trace slice on a real traced run', () => {
  it('with no filter writes back the shiviz.log the tracing server wrote, byte for byte', async () => {
    const out = path.join(root, 'all.log');
    const result = await sliceRun(runDir, {}, out);
    expect(result.kept).toBe(records.length);
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(path.join(runDir, 'shiviz.log'), 'utf8'));
  });

  it('one operation, by trace id, and two operations of different clients', async () => {
    const [one, other] = [traceIds[3], traceIds.find((id) => id.startsWith('bob'))!];
    await expectSlice({ traceIds: new Set([one]) }, records.filter((r) => r.traceId === one));
    await expectSlice({ traceIds: new Set([one, other]) }, records.filter((r) => r.traceId === one || r.traceId === other));
  });

  it('hosts and tags combine with AND, values of one kind with OR', async () => {
    const hosts = new Set(['alice', 'server1']);
    const tags = new Set(['PutStart', 'PutResultRecvd', 'AppendEntriesRecv', 'Apply']);
    await expectSlice({ hosts }, records.filter((r) => hosts.has(r.host)));
    await expectSlice({ tags }, records.filter((r) => tags.has(r.tag)));
    await expectSlice({ hosts, tags }, records.filter((r) => hosts.has(r.host) && tags.has(r.tag)));
  });

  it('a range of trace.jsonl lines, or between two host:counter events, capped by --max-events', async () => {
    const from = Math.floor(records.length / 3);
    const to = Math.floor((2 * records.length) / 3);
    const inLines = records.filter((r) => r.line >= from && r.line <= to);
    await expectSlice({ from: { line: from }, to: { line: to } }, inLines);
    const a = records[from];
    const b = records[to];
    await expectSlice(
      { from: { host: a.host, counter: a.clock[a.host] }, to: { host: b.host, counter: b.clock[b.host] } },
      records.filter((r) => r.line >= a.line && r.line <= b.line),
    );
    const servers = new Set(['server0', 'server2']);
    await expectSlice({ hosts: servers, from: { line: from }, maxEvents: 25 }, records.filter((r) => servers.has(r.host) && r.line >= from).slice(0, 25));
  });
});
