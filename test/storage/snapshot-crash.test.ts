import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/raft/types.ts';
import { RaftStorage } from '../../src/storage/raft-storage.ts';
import { encodeSnapshot } from '../../src/storage/snapshot-file.ts';
import { crashRecorder, entries, snap, tempDir, type CrashCopy } from './helpers.ts';

const decode = (data: Uint8Array | undefined) => new TextDecoder().decode(data);

/** Opens a crash copy, returns what it loaded (closing it), and checks the temp file is gone. */
async function recover(copy: CrashCopy) {
  const store = await RaftStorage.open(copy.dir);
  const { hardState, entries: log, snapshot } = store.initialState();
  const loaded = { hardState, log, snapshot, lastIndex: store.lastIndex(), lastTerm: store.lastTerm(), firstIndex: store.firstIndex() };
  await store.close();
  expect(await readdir(copy.dir), copy.label).not.toContain('snapshot.bin.tmp');
  // A second open finds the same: the first one's clean-up (dropped entries, removed temp file) is durable and sound.
  const again = await RaftStorage.open(copy.dir);
  expect(again.initialState().entries, copy.label).toEqual(log);
  expect(again.initialState().snapshot?.index ?? 0, copy.label).toBe(snapshot?.index ?? 0);
  await again.close();
  return loaded;
}

describe('a crash at each step of taking a snapshot and compacting the log', () => {
  it('leaves the old snapshot or the new one, and every acknowledged entry', async () => {
    const dir = await tempDir();
    const recorder = crashRecorder(dir, await tempDir());
    const store = await RaftStorage.open(dir, { onEvent: recorder.onEvent });
    const saved = [...entries(1, 20, 1), ...entries(21, 30, 2)];
    await store.save({ term: 2, votedFor: 'n1', commitIndex: 25 }, saved);
    await store.saveSnapshot(snap(10, 1));
    await store.compactLog(5);
    // The watermark of the save above is durable (its fsync may wait watermarkSyncMs).
    await store.idle();

    recorder.recording = true;
    await store.saveSnapshot(snap(20, 1));
    await store.compactLog(15);
    recorder.recording = false;
    await store.close();

    const labels = recorder.copies.map((c) => c.label);
    expect(labels).toEqual([
      'snapshot-write snapshot.bin.tmp',
      'snapshot-fsync snapshot.bin.tmp',
      'snapshot-rename snapshot.bin',
      `snapshot-sync-dir ${dir.split('/').pop()}`,
      'truncate log.db',
      'compact log.db',
    ]);
    const seen = new Set<number>();
    for (const copy of recorder.copies) {
      const got = await recover(copy);
      const at = got.snapshot?.index;
      seen.add(at ?? 0);
      // Before the rename the old snapshot is in place; from it on, the new one.
      expect(at, copy.label).toBe(copy.label.startsWith('snapshot-write') || copy.label.startsWith('snapshot-fsync') ? 10 : 20);
      expect(decode(got.snapshot?.data), copy.label).toBe(`state@${at}`);
      expect(got.log, copy.label).toEqual(saved.slice(at));
      expect([got.lastIndex, got.lastTerm, got.firstIndex], copy.label).toEqual([30, 2, at! + 1]);
      expect(got.hardState, copy.label).toEqual({ term: 2, votedFor: 'n1', commitIndex: 25 });
    }
    expect([...seen].sort()).toEqual([10, 20]);
  });
});

describe('a crash at each step of installing a snapshot from the leader', () => {
  /** The follower before the install: its own log and an older snapshot. */
  const setups: { name: string; log: Entry[]; commitIndex: number }[] = [
    // It holds 21..30 from a deposed leader (term 2), so entry 25 has term 2, not the snapshot's 3.
    { name: 'a log past the snapshot that does not match it', log: [...entries(1, 20, 1), ...entries(21, 30, 2)], commitIndex: 15 },
    { name: 'a log that ends below the snapshot', log: entries(1, 18, 1), commitIndex: 15 },
  ];
  for (const setup of setups) {
    it(`leaves the old state or the new one: ${setup.name}`, async () => {
      const dir = await tempDir();
      const recorder = crashRecorder(dir, await tempDir());
      const store = await RaftStorage.open(dir, { onEvent: recorder.onEvent });
      await store.save({ term: 2, votedFor: 'n1', commitIndex: setup.commitIndex }, setup.log);
      await store.saveSnapshot(snap(10, 1));
      await store.compactLog(10);
      const oldLog = setup.log.slice(10);
      const oldLast = setup.log.at(-1)!;

      recorder.recording = true;
      const newEntries = entries(26, 28, 3);
      await store.save({ term: 3, votedFor: null, commitIndex: 25 }, newEntries, snap(25, 3));
      recorder.recording = false;
      await store.close();

      const labels = recorder.copies.map((c) => c.label);
      expect(labels).toContain('snapshot-rename snapshot.bin');
      expect(labels).toContain('truncate log.db');
      expect(labels).toContain('compact log.db');
      expect(labels.at(-1)).toBe('resolve');
      let sawOld = false;
      let sawNewWithOldLog = false;
      for (const copy of recorder.copies) {
        const copiedLog = await readFile(join(copy.dir, 'log.db'), 'utf8');
        const got = await recover(copy);
        if (got.snapshot?.index === 10) {
          // The old state, whole: every entry it acknowledged is there.
          sawOld = true;
          expect(got.log, copy.label).toEqual(oldLog);
          expect([got.lastIndex, got.lastTerm], copy.label).toEqual([oldLast.index, oldLast.term]);
          expect(got.hardState.term, copy.label).toBe(2);
          continue;
        }
        // The new snapshot, with a prefix of the entries that follow it; the old log is gone.
        expect(got.snapshot, copy.label).toEqual(snap(25, 3));
        expect(newEntries.slice(0, got.log.length), copy.label).toEqual(got.log);
        expect(got.lastIndex, copy.label).toBe(25 + got.log.length);
        expect(got.hardState.commitIndex, copy.label).toBeGreaterThanOrEqual(25);
        if (copy.label === 'snapshot-rename snapshot.bin') sawNewWithOldLog = copiedLog.includes('"index":18,');
        if (copy.label === 'resolve') {
          expect(got.log, copy.label).toEqual(newEntries);
          expect(got.hardState, copy.label).toEqual({ term: 3, votedFor: null, commitIndex: 25 });
        }
      }
      expect(sawOld).toBe(true);
      // The step that matters most: the new snapshot in place and the old log still on disk.
      expect(sawNewWithOldLog).toBe(true);
    });
  }
});

describe('states a power loss can leave, written by hand from real outputs', () => {
  it('a half-written temp file beside the old snapshot, and a half-written log.db~ beside log.db: the old files load', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    const saved = entries(1, 30, 1);
    await store.save({ term: 1, votedFor: 'n1', commitIndex: 30 }, saved);
    await store.saveSnapshot(snap(10, 1));
    await store.compactLog(10);
    await store.close();
    const log = await readFile(join(dir, 'log.db'));
    // The next snapshot's temp file, cut before its fsync; NeDB's rewrite of log.db, cut while writing log.db~.
    await writeFile(join(dir, 'snapshot.bin.tmp'), encodeSnapshot(snap(20, 1)).subarray(0, 60));
    await writeFile(join(dir, 'log.db~'), log.subarray(0, Math.floor(log.length / 3)));

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().snapshot).toEqual(snap(10, 1));
    expect(reopened.initialState().entries).toEqual(saved.slice(10));
    await reopened.close();
  });

  it('a rewrite of log.db renamed into place as log.db~ only (NeDB loads it): the compacted log loads', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    const saved = entries(1, 30, 1);
    await store.save({ term: 1, votedFor: 'n1', commitIndex: 30 }, saved);
    await store.saveSnapshot(snap(20, 1));
    await store.compactLog(20);
    await store.close();
    const { rename } = await import('node:fs/promises');
    await rename(join(dir, 'log.db'), join(dir, 'log.db~'));
    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual(saved.slice(20));
    await reopened.close();
  });
});
