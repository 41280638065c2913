import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunWriter } from '../../tracing/run-writer.ts';
import { parseJsonl } from '../../tracing/shiviz.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-writer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const history = (w: RunWriter) => JSON.parse(readFileSync(w.historyPath, 'utf8')) as { call: number }[];

describe('RunWriter', () => {
  it('appends records on every flush, and rewrites history.json at most every historyEveryMs unless forced', () => {
    const w = new RunWriter(dir, 60_000);
    expect(history(w)).toEqual([]);
    w.add({ host: 'h', traceId: '', tag: 'A', body: {}, clock: { h: 1 } });
    w.addHistory({ call: 2 });
    w.flush();
    expect(parseJsonl(readFileSync(w.jsonlPath, 'utf8')).records).toHaveLength(1);
    // Rewritten at construction: the next routine flush within the minute leaves it.
    expect(history(w)).toEqual([]);
    w.addHistory({ call: 1 });
    w.flush(true);
    expect(history(w).map((e) => e.call)).toEqual([1, 2]);
  });

  it('rewrites history.json on a routine flush once historyEveryMs has passed', () => {
    const w = new RunWriter(dir, 0);
    w.addHistory({ call: 5 });
    w.flush();
    expect(history(w).map((e) => e.call)).toEqual([5]);
  });
});
