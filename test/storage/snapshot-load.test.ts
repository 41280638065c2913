import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/raft/types.ts';
import { CorruptDatafileError, LostEntriesError } from '../../src/storage/corrupt-datafile-error.ts';
import { toLogDoc } from '../../src/storage/log-docs.ts';
import { RaftStorage, type StorageOptions } from '../../src/storage/raft-storage.ts';
import { encodeSnapshot, SNAPSHOT_HEADER_BYTES } from '../../src/storage/snapshot-file.ts';
import { toStateDoc } from '../../src/storage/state-doc.ts';
import { docLine, entries, eventLog, liveIndexes, snap, tempDir } from './helpers.ts';

/** A data directory written by hand from the store's own encoders: log.db, state.db and snapshot.bin. */
async function layout(
  dir: string,
  { log, watermark, commitIndex = 0, snapshot }: { log: Entry[]; watermark: number; commitIndex?: number; snapshot?: ReturnType<typeof snap> },
): Promise<void> {
  await writeFile(join(dir, 'log.db'), log.map(toLogDoc).map(docLine).join(''));
  const state = { hardState: { term: 3, votedFor: 'n2', commitIndex }, stableIndex: watermark, incarnation: 7, catchUpIndex: 0 };
  await writeFile(join(dir, 'state.db'), docLine(toStateDoc(state)));
  if (snapshot) await writeFile(join(dir, 'snapshot.bin'), encodeSnapshot(snapshot));
}

/** Every file in `dir` and its bytes, to show a refused open changed nothing. */
async function filesIn(dir: string): Promise<Record<string, Buffer>> {
  const names = (await readdir(dir)).sort();
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await readFile(join(dir, name))])));
}

async function refusal(dir: string, options: StorageOptions = {}): Promise<CorruptDatafileError> {
  const err: unknown = await RaftStorage.open(dir, options).then(
    async (s) => {
      await s.close();
      return null;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CorruptDatafileError);
  return err as CorruptDatafileError;
}

/** Entries 1..5 in term 1, 6..15 in term 2. */
const fifteen = [...entries(1, 5, 1), ...entries(6, 15, 2)];

describe('loading a log against its snapshot', () => {
  it('keeps the entries after a snapshot the log overlaps, and drops the rest from disk', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen, watermark: 15, commitIndex: 12, snapshot: snap(10, 2) });
    const { events, onEvent } = eventLog();
    const store = await RaftStorage.open(dir, { onEvent });
    expect(store.initialState().entries).toEqual(fifteen.slice(10));
    expect([store.snapshotIndex, store.firstIndex(), store.lastIndex(), store.lastTerm()]).toEqual([10, 11, 15, 2]);
    expect(events).toContainEqual({ type: 'truncate', file: join(dir, 'log.db'), from: 1, to: 10 });
    expect(await liveIndexes(join(dir, 'log.db'))).toEqual([11, 12, 13, 14, 15]);
    await store.close();
  });

  it('ignores entries below the snapshot whatever they are (a compaction that stopped part-way)', async () => {
    const dir = await tempDir();
    await layout(dir, { log: [fifteen[2], ...fifteen.slice(6)], watermark: 15, snapshot: snap(10, 2) });
    const store = await RaftStorage.open(dir);
    expect(store.initialState().entries).toEqual(fifteen.slice(10));
    await store.close();
  });

  it('accepts a log that starts right after the snapshot', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen.slice(10), watermark: 15, snapshot: snap(10, 2) });
    const store = await RaftStorage.open(dir);
    expect(store.initialState().entries).toEqual(fifteen.slice(10));
    await store.close();
  });

  it('discards a log that holds the snapshot index with another term, when nothing past the snapshot was acknowledged', async () => {
    const dir = await tempDir();
    // A follower stopped mid-install: the snapshot (10, term 3) is durable, its old log (term 2 at 10) is not yet gone.
    await layout(dir, { log: fifteen, watermark: 10, commitIndex: 4, snapshot: snap(10, 3) });
    const store = await RaftStorage.open(dir);
    expect(store.initialState()).toEqual({ hardState: { term: 3, votedFor: 'n2', commitIndex: 10 }, entries: [], snapshot: snap(10, 3) });
    expect([store.firstIndex(), store.lastIndex(), store.lastTerm()]).toEqual([11, 10, 3]);
    expect(await liveIndexes(join(dir, 'log.db'))).toEqual([]);
    await store.close();
  });

  it('discards a log that ends below the snapshot', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen.slice(0, 7), watermark: 7, snapshot: snap(10, 3) });
    const store = await RaftStorage.open(dir);
    expect(store.initialState().entries).toEqual([]);
    expect(store.lastIndex()).toBe(10);
    await store.close();
  });

  it('refuses a log that contradicts the snapshot when entries past it were acknowledged; rejoinEmpty keeps the snapshot', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen, watermark: 15, commitIndex: 4, snapshot: snap(10, 3) });
    const before = await filesIn(dir);
    const err = await refusal(dir);
    expect(err).not.toBeInstanceOf(LostEntriesError);
    expect(err.message).toBe(
      `${join(dir, 'log.db')}: holds entry 10 with term 2, where the snapshot covers it with term 3, yet entries up to 15 were acknowledged after it: ` +
        'the log contradicts the snapshot; start with --rejoin-empty to set the log aside and keep the snapshot',
    );
    expect(await filesIn(dir)).toEqual(before);

    const store = await RaftStorage.open(dir, { rejoinEmpty: true });
    expect(store.initialState()).toEqual({ hardState: { term: 3, votedFor: 'n2', commitIndex: 10 }, entries: [], snapshot: snap(10, 3) });
    expect(store.catchUpIndex).toBe(15);
    expect(store.rejoined).toMatchObject({ catchUpIndex: 15, snapshotMovedTo: null, movedTo: expect.stringContaining('log.db.lost-') });
    expect(store.lastIndex()).toBe(10);
    await store.close();
  });

  it('refuses, as lost, a log cut below the snapshot while entries past it were acknowledged', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen.slice(0, 7), watermark: 15, snapshot: snap(10, 2) });
    const err = await refusal(dir);
    expect(err).toBeInstanceOf(LostEntriesError);
    expect([(err as LostEntriesError).missingFrom, (err as LostEntriesError).missingTo]).toEqual([11, 15]);
  });

  it('refuses a gap between the snapshot and the log, leaving the files as found', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen.slice(12), watermark: 15, snapshot: snap(10, 2) });
    const before = await filesIn(dir);
    const err = await refusal(dir);
    expect(err).toBeInstanceOf(LostEntriesError);
    expect([(err as LostEntriesError).missingFrom, (err as LostEntriesError).missingTo]).toEqual([11, 12]);
    expect(err.message).toBe(
      `${join(dir, 'log.db')}: the log starts at entry 13 but the snapshot ends at 10: entries 11-12 are missing (the file was truncated or damaged); ` +
        'start with --rejoin-empty to rejoin as an empty node',
    );
    expect(await filesIn(dir)).toEqual(before);
  });

  it('refuses a first entry after the snapshot with a lower term than the snapshot', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen.slice(10), watermark: 15, snapshot: snap(10, 5) });
    const err = await refusal(dir);
    expect([err.line, err.message]).toEqual([1, `${join(dir, 'log.db')} line 1: entry 11 has term 2, below the snapshot's term 5`]);
  });

  it('raises the commit index to the snapshot index: a snapshot holds only committed entries', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen.slice(10), watermark: 15, commitIndex: 3, snapshot: snap(10, 2) });
    const store = await RaftStorage.open(dir);
    expect(store.initialState().hardState.commitIndex).toBe(10);
    await store.close();
  });

  it('refuses a snapshot without a hard state beside it (the votes this node gave are unknown)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'snapshot.bin'), encodeSnapshot(snap(10, 2)));
    const err = await refusal(dir);
    expect(err.message).toBe(
      `${join(dir, 'state.db')}: holds no hard state while ${join(dir, 'snapshot.bin')} holds a snapshot: the term and vote this node promised are lost (was the file deleted?)`,
    );
  });

  it('rejoinEmpty with a damaged log keeps a sound snapshot; nothing to catch up when the snapshot covers what was acknowledged', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen.slice(10), watermark: 10, snapshot: snap(10, 2) });
    const lines = (await readFile(join(dir, 'log.db'), 'utf8')).split('\n');
    lines[2] = lines[2].replace('cmd-13', 'cmd-X');
    await writeFile(join(dir, 'log.db'), lines.join('\n'));
    expect((await refusal(dir)).message).toMatch(/line 3: log entry 13: checksum mismatch/);
    const store = await RaftStorage.open(dir, { rejoinEmpty: true });
    expect(store.initialState()).toEqual({ hardState: { term: 3, votedFor: 'n2', commitIndex: 10 }, entries: [], snapshot: snap(10, 2) });
    expect([store.catchUpIndex, store.lastIndex()]).toEqual([0, 10]);
    await store.close();
  });
});

describe('a damaged snapshot file', () => {
  const damages: [string, (bytes: Buffer) => Buffer, RegExp][] = [
    ['a flipped data byte', (b) => Buffer.concat([b.subarray(0, -3), Buffer.from([b.at(-3)! ^ 1]), b.subarray(-2)]), /snapshot data checksum mismatch/],
    ['a flipped index byte', (b) => Buffer.concat([b.subarray(0, 19), Buffer.from([b[19] ^ 4]), b.subarray(20)]), /snapshot header checksum mismatch/],
    ['data cut short', (b) => b.subarray(0, b.length - 4), /truncated snapshot: \d+ bytes of data where the header says \d+/],
    ['a cut inside the header', (b) => b.subarray(0, 30), /truncated snapshot: 30 bytes, shorter than the 44-byte header/],
    ['bytes after the data', (b) => Buffer.concat([b, Buffer.from('xx')]), /snapshot with trailing bytes/],
    ['another file', () => Buffer.from('{"_id":"1"}\n'.repeat(5)), /not a RaftKV snapshot file/],
  ];
  for (const [what, damage, problem] of damages) {
    it(`is refused, never ignored, and left as found: ${what}`, async () => {
      const dir = await tempDir();
      await layout(dir, { log: fifteen.slice(10), watermark: 15, snapshot: snap(10, 2, 'the only copy of 1..10') });
      const file = join(dir, 'snapshot.bin');
      await writeFile(file, damage(await readFile(file)));
      const before = await filesIn(dir);
      const err = await refusal(dir);
      expect([err.file, err.line]).toEqual([file, null]);
      expect(err.message).toMatch(problem);
      expect(err.message).toContain('it may hold the only copy of compacted entries, so it is not ignored');
      expect(await filesIn(dir)).toEqual(before);
    });
  }

  it('rejoinEmpty sets it aside with the log that depends on it, and starts empty', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen.slice(10), watermark: 15, commitIndex: 12, snapshot: snap(10, 2) });
    const file = join(dir, 'snapshot.bin');
    await writeFile(file, (await readFile(file)).subarray(0, SNAPSHOT_HEADER_BYTES + 2));
    const store = await RaftStorage.open(dir, { rejoinEmpty: true });
    expect(store.initialState()).toEqual({ hardState: { term: 3, votedFor: 'n2', commitIndex: 0 }, entries: [], snapshot: null });
    expect(store.catchUpIndex).toBe(15);
    expect(store.rejoined?.reason).toMatch(/truncated snapshot/);
    expect(store.rejoined?.snapshotMovedTo).toContain('snapshot.bin.lost-');
    const names = await readdir(dir);
    expect(names.filter((n) => n.startsWith('snapshot.bin.lost-') || n.startsWith('log.db.lost-'))).toHaveLength(2);
    expect(names).not.toContain('snapshot.bin');
    await store.close();
  });
});

describe('a leftover snapshot temp file', () => {
  it('is ignored and removed: the snapshot in place loads', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen.slice(10), watermark: 15, snapshot: snap(10, 2) });
    await writeFile(join(dir, 'snapshot.bin.tmp'), encodeSnapshot(snap(14, 2)).subarray(0, 50));
    const store = await RaftStorage.open(dir);
    expect(store.initialState().snapshot).toEqual(snap(10, 2));
    expect(store.initialState().entries).toEqual(fifteen.slice(10));
    expect(await readdir(dir)).not.toContain('snapshot.bin.tmp');
    await store.close();
  });

  it('is ignored when no snapshot was ever renamed into place, even if complete', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen, watermark: 15 });
    await writeFile(join(dir, 'snapshot.bin.tmp'), encodeSnapshot(snap(14, 2)));
    const store = await RaftStorage.open(dir);
    expect(store.initialState().snapshot).toBeNull();
    expect(store.initialState().entries).toEqual(fifteen);
    await store.close();
  });

  it('stays when the open is refused', async () => {
    const dir = await tempDir();
    await layout(dir, { log: fifteen.slice(12), watermark: 15, snapshot: snap(10, 2) });
    await writeFile(join(dir, 'snapshot.bin.tmp'), 'partial');
    await refusal(dir);
    expect(await readdir(dir)).toContain('snapshot.bin.tmp');
  });
});
