import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/raft/types.ts';
import { RaftStorage } from '../../src/storage/raft-storage.ts';
import { snap, tempDir } from './helpers.ts';

const MB = 1024 * 1024;

describe('bounded disk and memory with log compaction', () => {
  it('100,000 entries of 1 KB, compacted every 10,000 keeping 5,000: log.db stays near 15 MB, not 100 MB', async () => {
    const dir = await tempDir();
    const logFile = join(dir, 'log.db');
    const store = await RaftStorage.open(dir);
    const payload = 'x'.repeat(1024);
    let largest = 0;
    const started = performance.now();
    for (let first = 1; first <= 100_000; first += 1_000) {
      const batch: Entry[] = Array.from({ length: 1_000 }, (_, i) => ({ index: first + i, term: 1, kind: 'command', data: payload }));
      await store.save({ term: 1, votedFor: 'n1', commitIndex: first - 1 }, batch);
      largest = Math.max(largest, (await stat(logFile)).size);
      const last = first + 999;
      if (last % 10_000 === 0) {
        await store.saveSnapshot(snap(last, 1));
        await store.compactLog(last - 5_000);
        const size = (await stat(logFile)).size;
        expect(store.logBytes()).toBe(size);
        expect(store.logEntryCount()).toBe(5_000); // gone from NeDB's memory too
        expect([store.firstIndex(), store.lastIndex()]).toEqual([last - 4_999, last]);
      }
    }
    const final = (await stat(logFile)).size;
    console.log(
      `100,000 x 1 KB entries compacted every 10,000: log.db peaked at ${(largest / MB).toFixed(1)} MB, ends at ${(final / MB).toFixed(1)} MB ` +
        `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    // 15,000 entries of ~1.1 KB at the peak, 5,000 after the last compaction.
    expect(largest).toBeLessThan(20 * MB);
    expect(final).toBeLessThan(7 * MB);
    expect(final).toBeGreaterThan(5_000 * 1024);
    await store.close();

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().snapshot?.index).toBe(100_000);
    expect(reopened.initialState().entries).toEqual([]);
    expect(reopened.lastIndex()).toBe(100_000);
    await reopened.close();
  });
});
