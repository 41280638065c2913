import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_COMPACTION, DEFAULT_MEMORY, defaultConfig, loadConfig } from '../../src/server/config.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Writes `extra` beside one valid server into a config file and loads it. */
function load(extra: Record<string, unknown>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-config-'));
  dirs.push(dir);
  const file = path.join(dir, 'cluster.json');
  writeFileSync(file, JSON.stringify({ servers: [{ id: 's0', addr: '127.0.0.1:7000' }], ...extra }));
  return loadConfig(file);
}

describe('config: compaction and memory', () => {
  it('fills defaults when absent, and keeps what is given', () => {
    expect(load({}).compaction).toEqual(DEFAULT_COMPACTION);
    expect(load({}).memory).toEqual(DEFAULT_MEMORY);
    expect(defaultConfig(3).compaction).toEqual({ snapshotCount: 10_000, catchUpEntries: 5_000 });
    expect(load({ compaction: { snapshotCount: 50 } }).compaction).toEqual({ snapshotCount: 50, catchUpEntries: 5_000 });
    expect(load({ memory: { quotaBytes: 1000, heapLimitMb: 128 } }).memory).toEqual({ quotaBytes: 1000, heapLimitMb: 128 });
  });

  it('names the bad field', () => {
    expect(() => load({ compaction: { snapshotCount: 0 } })).toThrow(/compaction.snapshotCount must be a positive integer of entries \(got 0\)/);
    expect(() => load({ compaction: { catchUpEntries: -1 } })).toThrow(/compaction.catchUpEntries must be a non-negative integer/);
    expect(() => load({ compaction: { snapshotcount: 5 } })).toThrow(/unknown field "compaction.snapshotcount"/);
    expect(() => load({ compaction: 5 })).toThrow(/"compaction" must be an object/);
    expect(() => load({ memory: { quotaBytes: '1GB' } })).toThrow(/memory.quotaBytes must be a positive integer of bytes \(got "1GB"\)/);
    expect(() => load({ memory: { heapLimitMb: 16 } })).toThrow(/memory.heapLimitMb must be an integer of MiB, at least 64 \(got 16\)/);
  });
});
