import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../tracing/record.ts';
import { readSpool, Spool } from '../../tracing/spool.ts';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-spool-'));
  file = path.join(dir, 'trace-spool.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const rec = (n: number): TraceRecord => ({ host: 'server0', traceId: `t${n}`, tag: 'Apply', body: { index: n }, clock: { server0: n } });
const line = (n: number) => JSON.stringify(rec(n));
const counters = (records: TraceRecord[]) => records.map((r) => r.clock.server0);
/** Lines as a sink hands them over: one buffer, each line ending in a newline. */
const append = (spool: Spool, lines: string[], mayRotate = true) => spool.append(Buffer.from(lines.map((l) => `${l}\n`).join('')), lines.length, mayRotate);

describe('Spool', () => {
  it('gives back what an earlier life of the same run appended, in order', () => {
    const first = new Spool(file, 'run-a');
    expect(first.load()).toEqual([]);
    append(first, [line(1), line(2)]);
    append(first, [line(3)]);
    first.close();
    expect(new Spool(file, 'run-a').load()).toEqual([rec(1), rec(2), rec(3)]);
  });

  it('discards the records of another run', () => {
    const a = new Spool(file, 'run-a');
    a.load();
    append(a, [line(1)]);
    a.close();
    expect(new Spool(file, 'run-b').load()).toEqual([]);
    expect(readFileSync(file, 'utf8')).toBe('{"run":"run-b"}\n');
  });

  it('stops at a torn last line (the process died mid-write)', () => {
    const a = new Spool(file, 'run-a');
    a.load();
    append(a, [line(1), line(2)]);
    a.close();
    appendFileSync(file, line(3).slice(0, 20));
    expect(counters(new Spool(file, 'run-a').load())).toEqual([1, 2]);
  });

  it('rotates segments by rename and keeps the latest keep..2 x keep records, contiguous', () => {
    const keep = 3;
    const a = new Spool(file, 'run-a', keep);
    a.load();
    for (let n = 1; n <= 8; n++) append(a, [line(n)]);
    a.close();
    expect(existsSync(`${file}.1`)).toBe(true);
    const got = counters(new Spool(file, 'run-a', keep).load());
    expect(got.length).toBeGreaterThanOrEqual(keep);
    expect(got.length).toBeLessThanOrEqual(2 * keep);
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => 8 - got.length + 1 + i));
  });

  it('a restart that records nothing still leaves the records for the next one', () => {
    const keep = 4;
    const a = new Spool(file, 'run-a', keep);
    a.load();
    for (let n = 1; n <= 6; n++) append(a, [line(n)]);
    a.close();
    const second = new Spool(file, 'run-a', keep);
    const loaded = counters(second.load());
    second.close();
    expect(loaded.at(-1)).toBe(6);
    expect(existsSync(`${file}.1`)).toBe(false);
    expect(counters(new Spool(file, 'run-a', keep).load())).toEqual(loaded.slice(-keep));
  });
  it('does not rotate away records while the stream lags (mayRotate false), up to 10 x keep lines', () => {
    const spool = new Spool(file, 'run-a', 2);
    spool.load();
    for (let n = 1; n <= 6; n++) append(spool, [line(n)], false);
    expect(counters(readSpool(file, 'run-a'))).toEqual([1, 2, 3, 4, 5, 6]);
    for (let n = 7; n <= 21; n++) append(spool, [line(n)], false);
    // Past 10 x keep it rotates anyway; the segments still hold the latest records in order.
    const kept = counters(readSpool(file, 'run-a'));
    expect(kept.at(-1)).toBe(21);
    expect(kept).toEqual([...kept].sort((a, b) => a - b));
    spool.close();
  });

  it('a restart carries over every record the tracing server lacks, not only the latest keep', () => {
    const first = new Spool(file, 'run-a', 2);
    first.load();
    for (let n = 1; n <= 5; n++) append(first, [line(n)], false);
    first.close();
    expect(counters(new Spool(file, 'run-a', 2).load((r) => r.clock.server0 > 1))).toEqual([1, 2, 3, 4, 5]);
    // What the next life (or the tracing server) finds: 2 to 5, unsent, though keep is 2.
    expect(counters(readSpool(file, 'run-a'))).toEqual([2, 3, 4, 5]);
  });

  it('a reader racing the writer takes only whole lines', () => {
    const spool = new Spool(file, 'run-a');
    spool.load();
    append(spool, [line(1), line(2)]);
    appendFileSync(file, line(3).slice(0, 10)); // a write under way
    expect(counters(readSpool(file, 'run-a'))).toEqual([1, 2]);
    spool.close();
  });
});
