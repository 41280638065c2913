import { appendFile, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../../src/storage/checksum.ts';
import { CorruptDatafileError, LostEntriesError } from '../../src/storage/corrupt-datafile-error.ts';
import { toLogDoc } from '../../src/storage/log-docs.ts';
import { RaftStorage, type StorageOptions } from '../../src/storage/raft-storage.ts';
import { docLine, entries, entry, logDoc, tempDir } from './helpers.ts';

/** A store in `dir` that saved (so acknowledged) entries 1..n in term 2, commitIndex `commit`. */
async function saved(dir: string, n: number, commit: number): Promise<void> {
  const store = await RaftStorage.open(dir);
  await store.save({ term: 2, votedFor: 'n1', commitIndex: 0 }, entries(1, n, 2));
  await store.save({ term: 2, votedFor: 'n1', commitIndex: commit }, []);
  await store.close();
}

async function openError(dir: string, options: StorageOptions = {}): Promise<unknown> {
  return RaftStorage.open(dir, options).then(
    async (s) => {
      await s.close();
      return null;
    },
    (e: unknown) => e,
  );
}

/** Cuts log.db to half its bytes, inside a line (never right after a '\n'). */
async function cutInHalf(file: string): Promise<{ keptEntries: number }> {
  const bytes = await readFile(file);
  let at = Math.floor(bytes.length / 2);
  if (bytes[at - 1] === 0x0a) at += 3;
  await truncate(file, at);
  return { keptEntries: bytes.subarray(0, at).toString('utf8').split('\n').length - 1 };
}

describe('a log that lost entries it acknowledged', () => {
  it('is refused, naming the file and the missing range, and left as found', async () => {
    const dir = await tempDir();
    await saved(dir, 20, 15);
    const logFile = join(dir, 'log.db');
    const { keptEntries } = await cutInHalf(logFile);
    expect(keptEntries).toBeGreaterThan(3);
    expect(keptEntries).toBeLessThan(15);
    const before = await readFile(logFile);

    const err = await openError(dir);
    expect(err).toBeInstanceOf(LostEntriesError);
    const lost = err as LostEntriesError;
    expect([lost.file, lost.missingFrom, lost.missingTo]).toEqual([logFile, keptEntries + 1, 20]);
    expect(lost.message).toBe(
      `${logFile}: entries ${keptEntries + 1}-20 were acknowledged but are missing (the file was truncated or damaged); start with --rejoin-empty to rejoin as an empty node`,
    );
    // The torn line was not "repaired": the damage stays for a person to look at.
    expect(await readFile(logFile)).toEqual(before);
  });

  it('is refused when whole lines are gone too (a cut at a line boundary)', async () => {
    const dir = await tempDir();
    await saved(dir, 10, 0);
    const logFile = join(dir, 'log.db');
    const lines = (await readFile(logFile, 'utf8')).split('\n');
    await writeFile(logFile, lines.slice(0, 7).join('\n') + '\n');
    const err = await openError(dir);
    expect(err).toBeInstanceOf(LostEntriesError);
    expect((err as Error).message).toContain('entries 8-10 were acknowledged but are missing');
  });

  it('still repairs a torn last line past the watermark: that append was never acknowledged', async () => {
    const dir = await tempDir();
    await saved(dir, 5, 3);
    const logFile = join(dir, 'log.db');
    // A batch written but not yet fsynced when the process died: whole lines and a torn one.
    await appendFile(logFile, docLine(toLogDoc(entry(6, 2))) + docLine(toLogDoc(entry(7, 2))).slice(0, 30));
    const store = await RaftStorage.open(dir);
    expect(store.initialState().entries).toEqual(entries(1, 6, 2));
    await store.close();
  });

  it('a replaced suffix is not a loss, even if the node died between the two watermark writes', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    await store.save({ term: 2, votedFor: 'n1', commitIndex: 3 }, entries(1, 10, 2));
    await store.save({ term: 3, votedFor: 'n2', commitIndex: 3 }, [entry(6, 3, 'new-6')]);
    await store.close();
    // The watermark went 10, then 5 (before the log was cut; the new term beside the log
    // keeps it there), then 6.
    const lines = (await readFile(join(dir, 'state.db'), 'utf8')).split('\n').filter(Boolean);
    expect(lines.map((l) => (JSON.parse(l) as { stableIndex: number }).stableIndex).slice(-4)).toEqual([10, 5, 5, 6]);
    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual([...entries(1, 5, 2), entry(6, 3, 'new-6')]);
    await reopened.close();

    // A crash right after the lowered watermark was fsynced leaves the long log with it: fine.
    const crashed = await tempDir();
    await writeFile(join(crashed, 'log.db'), entries(1, 10, 2).map(toLogDoc).map(docLine).join(''));
    await writeFile(join(crashed, 'state.db'), lines.slice(0, -1).map((l) => `${l}\n`).join(''));
    const afterCrash = await RaftStorage.open(crashed);
    expect(afterCrash.initialState().entries).toEqual(entries(1, 10, 2));
    await afterCrash.close();
  });

  it('rejoins empty with rejoinEmpty: the log set aside, term and vote kept, no votes until refilled', async () => {
    const dir = await tempDir();
    await saved(dir, 20, 15);
    const logFile = join(dir, 'log.db');
    await cutInHalf(logFile);
    const damaged = await readFile(logFile);

    const store = await RaftStorage.open(dir, { rejoinEmpty: true });
    expect(store.initialState()).toEqual({ hardState: { term: 2, votedFor: 'n1', commitIndex: 0 }, entries: [], snapshot: null });
    expect(store.catchUpIndex).toBe(20);
    expect(store.rejoined).toMatchObject({ catchUpIndex: 20 });
    expect(store.rejoined!.reason).toMatch(/entries \d+-20 were acknowledged but are missing/);
    expect(await readFile(store.rejoined!.movedTo)).toEqual(damaged);
    expect((await readdir(dir)).filter((f) => f.startsWith('log.db.lost-'))).toHaveLength(1);
    await store.save(null, entries(1, 4, 2));
    await store.close();

    // A plain restart later: the new log is sound, and the rule to refill before voting stays.
    const again = await RaftStorage.open(dir);
    expect(again.initialState().entries).toEqual(entries(1, 4, 2));
    expect(again.catchUpIndex).toBe(20);
    expect(again.rejoined).toBeNull();
    await again.close();
  });

  it('with rejoinEmpty and a sound log, keeps it and starts as usual', async () => {
    const dir = await tempDir();
    await saved(dir, 5, 5);
    const store = await RaftStorage.open(dir, { rejoinEmpty: true });
    expect(store.rejoined).toBeNull();
    expect(store.initialState().entries).toEqual(entries(1, 5, 2));
    expect(store.catchUpIndex).toBe(0);
    await store.close();
  });

  it('refuses a log whose state.db is gone (the votes it gave are unknown), with or without rejoinEmpty', async () => {
    const dir = await tempDir();
    await saved(dir, 5, 5);
    await rm(join(dir, 'state.db'));
    for (const options of [{}, { rejoinEmpty: true }]) {
      const err = await openError(dir, options);
      expect(err).toBeInstanceOf(CorruptDatafileError);
      expect((err as Error).message).toBe(
        `${join(dir, 'state.db')}: holds no hard state while ${join(dir, 'log.db')} holds 5 entries: the term and vote this node promised are lost (was the file deleted?)`,
      );
    }
  });

  it('rejoins empty when log.db itself is gone', async () => {
    const dir = await tempDir();
    await saved(dir, 5, 5);
    await rm(join(dir, 'log.db'));
    expect((await openError(dir)) as Error).toBeInstanceOf(LostEntriesError);
    const store = await RaftStorage.open(dir, { rejoinEmpty: true });
    expect(store.rejoined).toMatchObject({ catchUpIndex: 5, movedTo: expect.stringContaining('was gone') });
    expect(store.initialState()).toEqual({ hardState: { term: 2, votedFor: 'n1', commitIndex: 0 }, entries: [], snapshot: null });
    await store.close();
  });

  it('raises the incarnation at every open, to at least the wall clock', async () => {
    const dir = await tempDir();
    const first = await RaftStorage.open(dir, { now: () => 1000 });
    await first.close();
    const second = await RaftStorage.open(dir, { now: () => 500 });
    await second.close();
    const third = await RaftStorage.open(dir, { now: () => 5000 });
    await third.close();
    expect([first.incarnation, second.incarnation, third.incarnation]).toEqual([1000, 1001, 5000]);
  });
});

describe('record checksums', () => {
  it('refuses a log record whose content does not match its CRC, naming the line; rejoinEmpty sets it aside', async () => {
    const dir = await tempDir();
    await saved(dir, 6, 2);
    const logFile = join(dir, 'log.db');
    const lines = (await readFile(logFile, 'utf8')).split('\n');
    // A flipped byte inside the data: still valid JSON, still a valid entry.
    lines[3] = lines[3].replace('cmd-4', 'cmd-X');
    await writeFile(logFile, lines.join('\n'));
    const err = await openError(dir);
    expect(err).toBeInstanceOf(CorruptDatafileError);
    expect((err as Error).message).toMatch(new RegExp(`^${logFile} line 4: log entry 4: checksum mismatch`));
    const store = await RaftStorage.open(dir, { rejoinEmpty: true });
    expect(store.initialState().entries).toEqual([]);
    expect(store.catchUpIndex).toBe(6);
    await store.close();
  });

  it('refuses a state.db record whose CRC fails, and rejoinEmpty does not help there', async () => {
    const dir = await tempDir();
    await saved(dir, 3, 1);
    const stateFile = join(dir, 'state.db');
    const lines = (await readFile(stateFile, 'utf8')).split('\n');
    const last = lines.length - 2;
    lines[last] = lines[last].replace('"term":2', '"term":7');
    await writeFile(stateFile, lines.join('\n'));
    for (const options of [{}, { rejoinEmpty: true }]) {
      const err = await openError(dir, options);
      expect(err).toBeInstanceOf(CorruptDatafileError);
      expect((err as Error).message).toMatch(new RegExp(`^${stateFile} line ${last + 1}: checksum mismatch`));
    }
  });

  it('loads records written before checksums and the watermark existed', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), [logDoc(1, 1), logDoc(2, 1), logDoc(3, 1)].map(docLine).join(''));
    await writeFile(join(dir, 'state.db'), docLine({ _id: 'hardState', term: 1, votedFor: 'n1', commitIndex: 2 }));
    const store = await RaftStorage.open(dir);
    expect(store.initialState()).toEqual({ hardState: { term: 1, votedFor: 'n1', commitIndex: 2 }, entries: entries(1, 3, 1), snapshot: null });
    await store.close();
    // Rewritten on open with a checksum and the watermark.
    const state = (await readFile(join(dir, 'state.db'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(state.at(-1)).toMatchObject({ stableIndex: 3, crc: expect.any(Number) });
  });

  it('crc32 is the IEEE CRC-32 (as zlib and etcd compute it)', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32('6789', crc32('12345'))).toBe(0xcbf43926);
  });
});
