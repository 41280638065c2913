import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RaftStorage } from '../../src/storage/raft-storage.ts';
import { crashRecorder, entries, entry, eventLog, tempDir } from './helpers.ts';

async function lineCount(file: string): Promise<number> {
  return (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '').length;
}

describe('durability order', () => {
  it('fsyncs everything written before save() resolves: the log, and a new term or vote beside it', async () => {
    const { labels, onEvent } = eventLog();
    const store = await RaftStorage.open(await tempDir(), { onEvent });
    labels.length = 0;
    // Twenty rounds: an fsync racing its append would win some of them.
    for (let index = 1; index <= 20; index++) {
      await store.save({ term: 1, votedFor: 'n1', commitIndex: index - 1 }, [entry(index, 1)]);
    }
    await store.save({ term: 2, votedFor: null, commitIndex: 20 }, []);
    await store.close();

    const resolves = labels.flatMap((l, i) => (l === 'resolve' ? [i] : []));
    expect(resolves).toHaveLength(21);
    let previous = 0;
    for (const [k, at] of resolves.entries()) {
      const before = labels.slice(0, at);
      // Every log append issued before the resolve has its fsync after it, and before the resolve.
      const appends = before.flatMap((l, i) => (l === 'append log.db' ? [i] : []));
      const fsyncs = before.flatMap((l, i) => (l === 'fsync log.db' ? [i] : []));
      expect(fsyncs.length, `log.db before resolve ${k}`).toBe(appends.length);
      if (appends.length > 0) expect(fsyncs.at(-1)!).toBeGreaterThan(appends.at(-1)!);
      if (k === 0 || k === 20) {
        // A new term: its state.db write (the last one issued) is fsynced before the resolve.
        const stateAppend = before.lastIndexOf('append state.db');
        expect(stateAppend, `state.db before resolve ${k}`).toBeGreaterThan(k === 0 ? -1 : resolves[k - 1]);
        expect(before.lastIndexOf('fsync state.db')).toBeGreaterThan(stateAppend);
      }
      previous = at;
    }
    // The first nineteen batches write their entries; the first also the new term (beside
    // the log), the last the new one alone.
    expect(labels.slice(0, resolves[0]).filter((l) => l === 'append state.db')).toHaveLength(1);
    expect(labels.slice(resolves[19] + 1, resolves[20]).filter((l) => l === 'append state.db').length).toBeGreaterThanOrEqual(1);
    expect(labels.slice(resolves[19] + 1, resolves[20])).not.toContain('append log.db');
    expect(previous).toBe(resolves[20]);
  });

  it('writes a commitIndex only after the entries it covers are fsynced', async () => {
    const dir = await tempDir();
    const { labels, onEvent } = eventLog();
    const store = await RaftStorage.open(dir, { onEvent });
    labels.length = 0;
    const linesBefore = await lineCount(join(dir, 'state.db'));
    await store.save({ term: 1, votedFor: null, commitIndex: 2 }, entries(1, 3, 1));
    await store.close();
    const written = (await readFile(join(dir, 'state.db'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .slice(linesBefore)
      .map((l) => JSON.parse(l) as { term: number; commitIndex: number; stableIndex: number });
    const appends = labels.flatMap((l, i) => (l === 'append state.db' ? [i] : []));
    expect(appends).toHaveLength(written.length);
    const logFsync = labels.indexOf('fsync log.db');
    // The new term goes beside the log, its commitIndex held to what was durable (0);
    // commitIndex 2 and the watermark 3 only after the log's fsync.
    expect(written.map((w) => [w.term, w.commitIndex, w.stableIndex])).toEqual([
      [1, 0, 0],
      [1, 2, 3],
    ]);
    expect(appends[1]).toBeGreaterThan(logFsync);
    expect(labels.indexOf('resolve')).toBeGreaterThan(logFsync);
  });

  it('a truncating save lowers the watermark first, fsyncs the deletions and the new entries together, resolves, then raises it', async () => {
    const { labels, onEvent } = eventLog();
    const store = await RaftStorage.open(await tempDir(), { onEvent });
    await store.save(null, entries(1, 5, 1));
    await store.idle();
    labels.length = 0;
    await store.save(null, [entry(3, 2)]);
    await store.close();
    expect(labels).toEqual(['append state.db', 'fsync state.db', 'append log.db', 'append log.db', 'fsync log.db', 'resolve', 'append state.db', 'fsync state.db']);
  });

  it('resolves once the log is fsynced, then writes the watermark after it (off the acknowledgement path)', async () => {
    const { labels, onEvent } = eventLog();
    const store = await RaftStorage.open(await tempDir(), { onEvent });
    labels.length = 0;
    await store.save(null, entries(1, 3, 1));
    await store.idle();
    expect(labels).toEqual(['append log.db', 'fsync log.db', 'resolve', 'append state.db', 'fsync state.db']);
    await store.close();
  });
});

describe('a crash at each step of a run of saves', () => {
  it('loads every time, with every acknowledged entry and vote, and a watermark that never outruns the log', async () => {
    const dir = await tempDir();
    const recorder = crashRecorder(dir, await tempDir());
    const store = await RaftStorage.open(dir, { onEvent: recorder.onEvent });
    recorder.recording = true;
    // What each save leaves acknowledged once it resolves: the log and the term and vote.
    const acknowledged: { log: ReturnType<typeof entries>; term: number; votedFor: string | null }[] = [];
    const steps: [{ term: number; votedFor: string | null; commitIndex: number } | null, ReturnType<typeof entries>][] = [
      [{ term: 1, votedFor: 'n1', commitIndex: 0 }, entries(1, 4, 1)],
      [null, entries(5, 6, 1)],
      [{ term: 1, votedFor: 'n1', commitIndex: 5 }, [entry(7, 1)]],
      [{ term: 2, votedFor: 'n2', commitIndex: 5 }, []],
      // A new leader's log replaces 7 (uncommitted) with its own.
      [{ term: 2, votedFor: 'n2', commitIndex: 6 }, entries(7, 8, 2)],
      [null, [entry(9, 2)]],
    ];
    let log: ReturnType<typeof entries> = [];
    let vote = { term: 0, votedFor: null as string | null };
    for (const [hardState, added] of steps) {
      await store.save(hardState, added);
      if (added.length > 0) log = [...log.slice(0, added[0].index - 1), ...added];
      if (hardState) vote = { term: hardState.term, votedFor: hardState.votedFor };
      acknowledged.push({ log, ...vote });
    }
    recorder.recording = false;
    await store.close();

    // Each copy is the disk at one event; from a save's own 'resolve' on, it was acknowledged.
    let acked = -1;
    for (const copy of recorder.copies) {
      if (copy.label === 'resolve') acked++;
      const reopened = await RaftStorage.open(copy.dir);
      const { entries: got, hardState } = reopened.initialState();
      await reopened.close();
      if (acked >= 0) {
        const want = acknowledged[acked];
        const at = `${copy.dir} after save ${acked}`;
        // The save under way may already have replaced a suffix, or written a newer term.
        const kept = Math.min(want.log.length, (steps[acked + 1]?.[1][0]?.index ?? Infinity) - 1);
        expect(got.length, at).toBeGreaterThanOrEqual(want.log.length);
        expect(got.slice(0, kept), at).toEqual(want.log.slice(0, kept));
        expect(hardState.term, at).toBeGreaterThanOrEqual(want.term);
        if (hardState.term === want.term) expect(hardState.votedFor, at).toBe(want.votedFor);
      }
      expect(hardState.commitIndex, copy.dir).toBeLessThanOrEqual(got.at(-1)?.index ?? 0);
    }
    expect(acked).toBe(steps.length - 1);
  });
});

describe('group commit', () => {
  it('100 concurrent saves share a handful of fsyncs', async () => {
    const dir = await tempDir();
    const { events, onEvent } = eventLog();
    const store = await RaftStorage.open(dir, { onEvent });
    await store.save(null, [entry(1, 1)]);
    events.length = 0;
    const saves = Array.from({ length: 100 }, (_, i) =>
      store.save({ term: 1, votedFor: 'n1', commitIndex: i + 1 }, [entry(i + 2, 1)]),
    );
    await Promise.all(saves);
    await store.close();

    const fsyncs = events.filter((e) => e.type === 'fsync').length;
    const resolved = events.flatMap((e) => (e.type === 'resolve' ? [e.saves] : []));
    console.log(`100 concurrent saves: ${fsyncs} fsyncs, batches of ${resolved.join(', ')}`);
    expect(resolved.reduce((a, b) => a + b, 0)).toBe(100);
    expect(fsyncs).toBeGreaterThan(0);
    expect(fsyncs).toBeLessThanOrEqual(20);

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual(entries(1, 101, 1));
    expect(reopened.initialState().hardState.commitIndex).toBe(100);
    await reopened.close();
  });

  it('saves arriving while a batch is on its way to disk go together in the next one', async () => {
    const dir = await tempDir();
    const { events, onEvent } = eventLog();
    const store = await RaftStorage.open(dir, { onEvent });
    events.length = 0;
    const saves: Promise<void>[] = [];
    for (let index = 1; index <= 100; index++) {
      saves.push(store.save(null, [entry(index, 1)]));
      await new Promise((resolve) => setImmediate(resolve)); // one save per turn of the event loop
    }
    await Promise.all(saves);
    await store.close();

    const fsyncs = (file: string) => events.filter((e) => e.type === 'fsync' && e.file.endsWith(file)).length;
    const batches = events.flatMap((e) => (e.type === 'resolve' ? [e.saves] : []));
    console.log(`100 saves one per tick: ${fsyncs('log.db')} log.db and ${fsyncs('state.db')} state.db fsyncs, batches of ${batches.join(', ')}`);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(100);
    // One fsync of the log per batch; the watermarks written after them share fsyncs
    // (at most one per watermarkSyncMs, and close() makes the last one durable).
    expect(fsyncs('log.db')).toBe(batches.length);
    expect(fsyncs('state.db')).toBeGreaterThanOrEqual(1);
    expect(fsyncs('state.db')).toBeLessThanOrEqual(batches.length);
    const last = (type: string) => events.findLastIndex((e) => e.type === type && 'file' in e && e.file.endsWith('state.db'));
    expect(last('fsync')).toBeGreaterThan(last('append'));
    expect(batches.length).toBeLessThan(50);
    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual(entries(1, 100, 1));
    await reopened.close();
  });
});

describe('compaction', () => {
  it('never rewrites an append-only log', async () => {
    const { labels, onEvent } = eventLog();
    const store = await RaftStorage.open(await tempDir(), { onEvent, compactAfterDeadLines: 10 });
    for (let i = 1; i <= 50; i++) await store.save(null, [entry(i, 1)]);
    await store.close();
    expect(labels).not.toContain('compact log.db');
  });

  it('compacts the log once a truncation leaves enough dead lines, keeping the data', async () => {
    const dir = await tempDir();
    const logFile = join(dir, 'log.db');
    const { labels, onEvent } = eventLog();
    const store = await RaftStorage.open(dir, { onEvent, compactAfterDeadLines: 10 });
    await store.save(null, entries(1, 20, 1));
    await store.save(null, [entry(20, 2, 'late')]); // 2 dead lines: below the threshold
    expect(labels).not.toContain('compact log.db');
    expect(await lineCount(logFile)).toBe(22);

    await store.save({ term: 3, votedFor: 'n2', commitIndex: 4 }, entries(5, 7, 3)); // 2 x 16 dead lines
    await store.close(); // compaction runs after the batch resolves, so that a save need not wait for it
    expect(labels.filter((l) => l === 'compact log.db')).toHaveLength(1);
    expect(await lineCount(logFile)).toBe(7);

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual([...entries(1, 4, 1), ...entries(5, 7, 3)]);
    expect(reopened.initialState().hardState).toEqual({ term: 3, votedFor: 'n2', commitIndex: 4 });
    await reopened.close();
  });

  it('compacts the hard state file as saves pile up, keeping the latest', async () => {
    const dir = await tempDir();
    const { labels, onEvent } = eventLog();
    const store = await RaftStorage.open(dir, { onEvent, compactAfterDeadLines: 10 });
    for (let term = 1; term <= 25; term++) await store.save({ term, votedFor: `n${term % 7}`, commitIndex: 0 }, []);
    await store.close();
    expect(labels.filter((l) => l === 'compact state.db')).toHaveLength(2);
    expect(await lineCount(join(dir, 'state.db'))).toBeLessThanOrEqual(11);

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().hardState).toEqual({ term: 25, votedFor: 'n4', commitIndex: 0 });
    await reopened.close();
  });
});

describe('a large log', () => {
  it('reopens 20,000 entries', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    const payload = 'x'.repeat(100);
    for (let first = 1; first <= 20_000; first += 1_000) {
      const batch = Array.from({ length: 1_000 }, (_, i) => ({ ...entry(first + i, 1 + Math.floor((first + i) / 5_000)), data: payload }));
      await store.save({ term: 5, votedFor: 'n1', commitIndex: first - 1 }, batch);
    }
    await store.close();

    const started = performance.now();
    const reopened = await RaftStorage.open(dir);
    const elapsed = performance.now() - started;
    console.log(`reopened 20,000 entries in ${elapsed.toFixed(0)} ms`);
    const { entries: loaded, hardState } = reopened.initialState();
    expect(loaded).toHaveLength(20_000);
    expect(loaded.every((e, i) => e.index === i + 1)).toBe(true);
    expect([reopened.lastIndex(), reopened.lastTerm()]).toEqual([20_000, 5]);
    expect(hardState.commitIndex).toBe(19_000);
    await reopened.close();
  });
});
