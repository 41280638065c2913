import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HISTORY_LOG, readRunHistory } from '../../tracing/history-file.ts';
import { RunWriter, WRITING_MARKER } from '../../tracing/run-writer.ts';
import { parseJsonl } from '../../tracing/shiviz.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-writer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

describe('RunWriter', () => {
  it('appends records and history entries on every flush; close writes history.json sorted by call in place of history.jsonl', () => {
    const w = new RunWriter(dir);
    w.add({ host: 'h', traceId: '', tag: 'A', body: {}, clock: { h: 1 } });
    w.addHistory({ call: 2, n: 'second' });
    w.flush();
    expect(parseJsonl(readFileSync(w.jsonlPath, 'utf8')).records).toHaveLength(1);
    expect(lines(w.historyLogPath)).toEqual(['{"call":2,"n":"second"}']);
    expect(existsSync(w.historyPath)).toBe(false);
    w.addHistory({ call: 1, n: 'first' }, '{"call":1,"n":"first"}');
    w.flush();
    // Arrival order in the log; a reader of the open run sorts it.
    expect(lines(w.historyLogPath).map((l) => (JSON.parse(l) as { call: number }).call)).toEqual([2, 1]);
    expect(readRunHistory(dir)).toEqual({ file: HISTORY_LOG, entries: [{ call: 1, n: 'first' }, { call: 2, n: 'second' }] });
    w.close();
    expect(JSON.parse(readFileSync(w.historyPath, 'utf8'))).toEqual([{ call: 1, n: 'first' }, { call: 2, n: 'second' }]);
    expect(existsSync(w.historyLogPath)).toBe(false);
    expect(existsSync(path.join(dir, WRITING_MARKER))).toBe(false);
    expect(readRunHistory(dir)?.file).toBe('history.json');
  });

  it('writes an entry whose JSON spans lines as one line, and U+2028 escaped', () => {
    const w = new RunWriter(dir);
    w.addHistory({ call: 1, v: 'a\u2028b' }, '{"call":1,\n"v":"a\u2028b"}');
    w.flush();
    expect(lines(w.historyLogPath)).toEqual(['{"call":1,"v":"a\\u2028b"}']);
    expect(readRunHistory(dir)?.entries).toEqual([{ call: 1, v: 'a\u2028b' }]);
  });

  it('a writer killed mid-run leaves history.jsonl: read without its torn last line, and a bad line named', () => {
    const w = new RunWriter(dir);
    w.addHistory({ call: 3 });
    w.addHistory({ call: 1 });
    w.flush();
    appendFileSync(w.historyLogPath, '{"call":2,"out');
    expect(readRunHistory(dir)?.entries).toEqual([{ call: 1 }, { call: 3 }]);
    appendFileSync(w.historyLogPath, '\n[1]\n');
    expect(() => readRunHistory(dir)).toThrow(/history\.jsonl line 3/);
  });

  it('no history file at all reads as null', () => {
    expect(readRunHistory(dir)).toBeNull();
  });
});
