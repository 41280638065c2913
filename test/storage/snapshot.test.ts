import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RaftStorage } from '../../src/storage/raft-storage.ts';
import { entries, entry, eventLog, liveIndexes, snap, tempDir } from './helpers.ts';

const decode = (data: Uint8Array | undefined) => new TextDecoder().decode(data);

/** Entries 1..20 in term 1 and 21..30 in term 2, commitIndex 25. */
const thirty = [...entries(1, 20, 1), ...entries(21, 30, 2)];

describe('taking a snapshot and compacting the log', () => {
  it('round trip: saveSnapshot, compactLog, reopen gives the snapshot and the log after it', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    await store.save({ term: 2, votedFor: 'n1', commitIndex: 25 }, thirty);
    expect([store.firstIndex(), store.snapshotIndex, store.latestSnapshot()]).toEqual([1, 0, null]);

    await store.saveSnapshot(snap(20, 1));
    expect(store.snapshotIndex).toBe(20);
    expect(decode(store.latestSnapshot()?.data)).toBe('state@20');
    expect(await liveIndexes(join(dir, 'log.db'))).toHaveLength(30); // the log is untouched

    await store.compactLog(15); // a tail of five entries stays below the snapshot
    expect([store.firstIndex(), store.lastIndex(), store.lastTerm()]).toEqual([16, 30, 2]);
    expect(await liveIndexes(join(dir, 'log.db'))).toEqual(thirty.slice(15).map((e) => e.index));
    expect(store.logEntryCount()).toBe(15);
    await store.close();

    const reopened = await RaftStorage.open(dir);
    const initial = reopened.initialState();
    expect(initial.hardState).toEqual({ term: 2, votedFor: 'n1', commitIndex: 25 });
    expect(initial.entries).toEqual(thirty.slice(20)); // only those after the snapshot
    expect([initial.snapshot?.index, initial.snapshot?.term, decode(initial.snapshot?.data)]).toEqual([20, 1, 'state@20']);
    expect(reopened.latestSnapshot()).toBe(initial.snapshot);
    expect([reopened.snapshotIndex, reopened.firstIndex(), reopened.lastIndex(), reopened.lastTerm()]).toEqual([20, 21, 30, 2]);
    // The tail below the snapshot is dropped from disk and memory at open.
    expect(await liveIndexes(join(dir, 'log.db'))).toEqual(thirty.slice(20).map((e) => e.index));
    expect(reopened.logEntryCount()).toBe(10);
    await reopened.save(null, [entry(31, 2)]);
    await reopened.close();

    const again = await RaftStorage.open(dir);
    expect(again.initialState().entries).toEqual([...thirty.slice(20), entry(31, 2)]);
    await again.close();
  });

  it('a log compacted up to the snapshot, with nothing after it, reopens empty after the snapshot', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    await store.save({ term: 2, votedFor: null, commitIndex: 30 }, thirty);
    await store.saveSnapshot(snap(30, 2));
    await store.compactLog(30);
    expect([store.firstIndex(), store.lastIndex(), store.lastTerm(), store.logEntryCount()]).toEqual([31, 30, 2, 0]);
    await store.save(null, [entry(31, 3)]); // appends after the snapshot: term checked against the snapshot's
    await store.close();

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual([entry(31, 3)]);
    expect([reopened.firstIndex(), reopened.lastIndex(), reopened.lastTerm()]).toEqual([31, 31, 3]);
    await reopened.close();
  });

  it('reports each step in order: temp write, fsync, rename, directory fsync, then the log truncation and its rewrite', async () => {
    const dir = await tempDir();
    const { labels, onEvent } = eventLog();
    const store = await RaftStorage.open(dir, { onEvent });
    await store.save({ term: 2, votedFor: null, commitIndex: 25 }, thirty);
    await store.idle();
    labels.length = 0;
    // Not awaited: compactLog waits for the snapshot write issued before it.
    const taken = store.saveSnapshot(snap(20, 1));
    await store.compactLog(20);
    await taken;
    expect(labels).toEqual([
      'snapshot-write snapshot.bin.tmp',
      'snapshot-fsync snapshot.bin.tmp',
      'snapshot-rename snapshot.bin',
      `snapshot-sync-dir ${dir.split('/').pop()}`,
      'truncate log.db',
      'compact log.db',
    ]);
    expect((await readdir(dir)).sort()).toEqual(['log.db', 'snapshot.bin', 'state.db']);
    await store.close();
  });

  it('saveSnapshot ignores a snapshot not newer than the current one and refuses one past the log', async () => {
    const dir = await tempDir();
    const { events, onEvent } = eventLog();
    const store = await RaftStorage.open(dir, { onEvent });
    await store.save({ term: 2, votedFor: null, commitIndex: 25 }, thirty);
    await store.saveSnapshot(snap(20, 1));
    events.length = 0;
    await store.saveSnapshot(snap(20, 1, 'other'));
    await store.saveSnapshot(snap(12, 1));
    expect(decode(store.latestSnapshot()?.data)).toBe('state@20');
    expect(events).toEqual([]);
    await expect(store.saveSnapshot(snap(31, 2))).rejects.toThrow(/snapshot 31 is past the log's last index 30/);
    await expect(store.saveSnapshot({ index: 25, term: 2, data: 'x' as unknown as Uint8Array })).rejects.toThrow(/not a snapshot/);
    await store.saveSnapshot(snap(25, 2));
    expect(store.snapshotIndex).toBe(25);
    await store.close();
    const reopened = await RaftStorage.open(dir);
    expect(decode(reopened.latestSnapshot()?.data)).toBe('state@25');
    await reopened.close();
  });

  it('compactLog refuses to drop entries no snapshot covers, and stays usable', async () => {
    const store = await RaftStorage.open(await tempDir());
    await store.save({ term: 2, votedFor: null, commitIndex: 25 }, thirty);
    await expect(store.compactLog(5)).rejects.toThrow(/entries up to 5 cannot be dropped, the latest snapshot does not exist/);
    await store.saveSnapshot(snap(20, 1));
    await expect(store.compactLog(21)).rejects.toThrow(/entries up to 21 cannot be dropped, the latest snapshot ends at 20/);
    await store.compactLog(10);
    await store.compactLog(8); // nothing left to drop
    expect(store.firstIndex()).toBe(11);
    await store.save(null, [entry(31, 2)]);
    expect(store.logEntryCount()).toBe(21);
    await store.close();
  });

  it('no save may rewrite an entry the snapshot covers', async () => {
    const store = await RaftStorage.open(await tempDir());
    await store.save({ term: 2, votedFor: null, commitIndex: 5 }, thirty); // commitIndex on disk lags, as it may
    await store.saveSnapshot(snap(20, 1));
    await expect(store.save(null, [entry(20, 3)])).rejects.toThrow(/entry 20 is covered by the snapshot at 20 and cannot be rewritten/);
    await store.save(null, [entry(21, 3)]); // past the snapshot, an uncommitted suffix may still be replaced
    expect([store.lastIndex(), store.lastTerm()]).toEqual([21, 3]);
    await store.close();
  });

  it('logBytes follows log.db: grows with appends, shrinks after compactLog', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    const size = async () => (await stat(join(dir, 'log.db'))).size;
    expect(store.logBytes()).toBe(0);
    await store.save({ term: 2, votedFor: null, commitIndex: 25 }, thirty);
    expect(store.logBytes()).toBe(await size());
    const full = store.logBytes();
    await store.saveSnapshot(snap(25, 2));
    await store.compactLog(25);
    expect(store.logBytes()).toBe(await size());
    expect(store.logBytes()).toBeLessThan(full / 4);
    await store.close();
  });
});

describe('installing a snapshot from the leader: save(hardState, entries, snapshot)', () => {
  it('replaces the whole log; reopen gives the snapshot and the entries after it, the old log gone', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    // Entries 21..30 in term 2 never committed: the leader's log has term 3 from 21.
    await store.save({ term: 2, votedFor: 'n1', commitIndex: 15 }, thirty);
    await store.save({ term: 3, votedFor: null, commitIndex: 25 }, entries(26, 28, 3), snap(25, 3));
    expect([store.snapshotIndex, store.firstIndex(), store.lastIndex(), store.lastTerm()]).toEqual([25, 26, 28, 3]);
    expect(decode(store.latestSnapshot()?.data)).toBe('state@25');
    expect(await liveIndexes(join(dir, 'log.db'))).toEqual([26, 27, 28]);
    expect(store.logEntryCount()).toBe(3);
    await store.close();

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState()).toEqual({
      hardState: { term: 3, votedFor: null, commitIndex: 25 },
      entries: entries(26, 28, 3),
      snapshot: snap(25, 3),
    });
    expect([reopened.firstIndex(), reopened.lastIndex(), reopened.lastTerm()]).toEqual([26, 28, 3]);
    expect(await readFile(join(dir, 'log.db'), 'utf8')).not.toContain('"term":2');
    await reopened.close();
  });

  it('with no entries: the log is empty after the snapshot, and later saves follow it', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    await store.save({ term: 1, votedFor: 'n2', commitIndex: 3 }, entries(1, 8, 1));
    await store.save({ term: 4, votedFor: null, commitIndex: 40 }, [], snap(40, 4));
    expect([store.firstIndex(), store.lastIndex(), store.lastTerm()]).toEqual([41, 40, 4]);
    await expect(store.save(null, [entry(43, 4)])).rejects.toThrow(/entries start at 43 but the log ends at 40/);
    await expect(store.save(null, [entry(41, 3)])).rejects.toThrow(/entry 41 has term 3, below the last term 4/);
    await store.save(null, [entry(41, 4)]);
    await store.close();

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual([entry(41, 4)]);
    expect(reopened.initialState().snapshot?.index).toBe(40);
    await reopened.close();
  });

  it('orders the steps: watermark lowered, snapshot durable, log discarded, entries, then hard state and watermark', async () => {
    const dir = await tempDir();
    const { labels, onEvent } = eventLog();
    const store = await RaftStorage.open(dir, { onEvent });
    await store.save({ term: 2, votedFor: 'n1', commitIndex: 15 }, thirty);
    await store.idle();
    labels.length = 0;
    await store.save({ term: 3, votedFor: null, commitIndex: 25 }, entries(26, 28, 3), snap(25, 3));
    expect(labels).toEqual([
      'append state.db', // watermark 30 -> 25
      'fsync state.db',
      'snapshot-write snapshot.bin.tmp',
      'snapshot-fsync snapshot.bin.tmp',
      'snapshot-rename snapshot.bin',
      `snapshot-sync-dir ${dir.split('/').pop()}`,
      'truncate log.db',
      'compact log.db',
      'append log.db',
      'fsync log.db',
      'append state.db',
      'fsync state.db',
      'resolve',
    ]);
    const watermarks = (await readFile(join(dir, 'state.db'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { stableIndex: number }).stableIndex);
    expect(watermarks.slice(-3)).toEqual([30, 25, 28]);
    await store.close();
  });

  it('is ordered with the saves around it', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    await Promise.all([
      store.save({ term: 1, votedFor: 'n1', commitIndex: 0 }, entries(1, 10, 1)),
      store.save({ term: 2, votedFor: null, commitIndex: 20 }, entries(21, 22, 2), snap(20, 2)),
      store.save(null, [entry(23, 2)]),
      store.compactLog(20),
    ]);
    await store.close();
    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual(entries(21, 23, 2));
    expect(reopened.initialState().snapshot?.index).toBe(20);
    await reopened.close();
  });

  it('refuses an install that is not newer, would discard committed entries, or whose entries do not follow it', async () => {
    const store = await RaftStorage.open(await tempDir());
    await store.save({ term: 2, votedFor: null, commitIndex: 12 }, thirty);
    await store.saveSnapshot(snap(10, 1));
    await expect(store.save(null, [], snap(10, 1))).rejects.toThrow(/snapshot 10 is not newer than the current snapshot 10/);
    await expect(store.save(null, [], snap(12, 1))).rejects.toThrow(/snapshot 12 is at or below commitIndex 12: installing it would discard committed entries/);
    await expect(store.save(null, entries(27, 28, 3), snap(25, 3))).rejects.toThrow(/entries saved with snapshot 25 start at 27, not 26/);
    await expect(store.save({ term: 3, votedFor: null, commitIndex: 27 }, [entry(26, 3)], snap(25, 3))).rejects.toThrow(
      /commitIndex 27 is past the last entry 26/,
    );
    expect([store.lastIndex(), store.snapshotIndex]).toEqual([30, 10]);
    await store.close();
  });
});
