import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runChecks } from '../../tracing/check/report.ts';
import type { TraceRecord } from '../../tracing/record.ts';
import { formatJsonl, formatShiViz } from '../../tracing/shiviz.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-no-servers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('a run with no servers in it and no meta.json says there is no majority to count (it printed "majority 1 of 0 ...: )")', () => {
  // A tracing server only clients reached (their cluster traced elsewhere): a trial found this.
  const records: TraceRecord[] = [
    { host: 'c1', traceId: '', tag: 'KvslibStart', body: { clientId: 'c1' }, clock: { c1: 1 } },
    { host: 'c1', traceId: '', tag: 'KvslibStop', body: { clientId: 'c1' }, clock: { c1: 2 } },
  ];
  writeFileSync(path.join(root, 'trace.jsonl'), formatJsonl(records));
  writeFileSync(path.join(root, 'shiviz.log'), formatShiViz(records));
  writeFileSync(path.join(root, 'history.json'), '[]');
  const election = runChecks(root).results.find((r) => r.rule === 'election-safety')!;
  expect(election.note).toBe('0 elections; no servers in the trace and no meta.json: no majority to count');
});
