import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../tracing/check/report.ts';
import type { HistoryEntry } from '../../tracing/history.ts';
import { buildModel } from '../../tracing/report/build-model.ts';
import type { JsonlRecord } from '../../tracing/shiviz.ts';

/**
 * The report of a run over an earlier run's data shows the counterexample `raftkv check`
 * prints: keys the old data wrote start with an unknown value, keys it set to expire are
 * not checked (initial-state.ts), on the page as in the rule. A small run directory: one
 * server's Apply records as src/server/raft-node.ts writes them (commands as
 * src/kv/command.ts encodes them) and a history.json of this run's clients.
 */

let dir = '';

const command = (clientId: string, opId: number, op: Record<string, unknown>) => JSON.stringify({ clientId, opId, firstUnacked: opId, ts: 1, op });
const get = (clientId: string, opId: number, key: string, value: string, call: number, ret: number): HistoryEntry => ({ clientId, opId, op: { type: 'get', key }, call, return: ret, output: { value } });
const put = (clientId: string, opId: number, key: string, value: string, call: number, ret: number): HistoryEntry => ({ clientId, opId, op: { type: 'put', key, value }, call, return: ret, output: { value } });

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-report-old-data-'));
  let n = 0;
  const apply = (index: number, cmd: string): JsonlRecord => {
    n++;
    return { host: 'server0', traceId: '', tag: 'Apply', body: { command: cmd, term: 1, index }, clock: { server0: n }, line: n };
  };
  // The earlier run's commands, replayed from index 1: z was "old", t set to expire.
  const records = [
    apply(1, command('old', 1, { type: 'put', key: 'z', value: 'old' })),
    apply(2, command('old', 2, { type: 'expire', key: 't', deadlineMs: 5 })),
    apply(3, command('ann', 1, { type: 'put', key: 'z', value: 'new' })),
  ];
  const history: HistoryEntry[] = [
    // Fine from the old value; from an absent key it would be the culprit.
    get('ben', 1, 'z', 'old', 0, 10),
    put('ann', 1, 'z', 'new', 20, 30),
    // Not linearizable from any initial value: "new" was in place before it was called.
    get('ben', 2, 'z', 'old', 40, 50),
    // t changes with time (the old expire): not checked; from absent it would fail.
    get('ben', 3, 't', 'whatever', 60, 70),
  ];
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'trace.jsonl'), records.map(({ line: _line, ...r }) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(path.join(dir, 'history.json'), JSON.stringify(history));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the report of a run over existing data', () => {
  it("names the counterexample check prints: old keys start unknown, keys the old data set to expire are skipped", () => {
    const lin = runChecks(dir).results.find((r) => r.rule === 'linearizability')!;
    expect(lin.status).toBe('FAIL');
    expect(lin.note).toMatch(/initial values unknown for 2 keys \(t, z\)/);
    const model = buildModel(dir);
    // One counterexample per offender, on the same key, listing the same operations as check's details.
    expect(model.counterexamples.map((c) => c.key)).toEqual(['z']);
    expect(lin.offenders).toHaveLength(1);
    expect(lin.offenders[0].message).toMatch(/^key "z": not linearizable/);
    expect(model.counterexamples[0].lines).toEqual(lin.offenders[0].details!.slice(1));
    expect(model.counterexamples[0].culprit).toBe('ben:2');
    expect(model.counterexamples[0].ops).not.toContain('ben:1');
  });
});
