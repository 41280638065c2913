import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptDatafileError } from '../../src/storage/corrupt-datafile-error.ts';
import { RaftStorage, type StorageOptions } from '../../src/storage/raft-storage.ts';
import { docLine, eventLog, logDoc, tempDir } from './helpers.ts';

/**
 * Entries 1, 2, 3 and 5: a gap. Entry 3 was replaced, so the file has dead lines and
 * entry 5 sits on line 6; a NeDB load would rewrite it to one line per live document.
 */
const gappedLog = [
  logDoc(1, 1),
  logDoc(2, 1),
  logDoc(3, 1),
  { $$deleted: true, _id: '3' },
  logDoc(3, 2),
  logDoc(5, 2),
]
  .map(docLine)
  .join('');

const hardState = (commitIndex: number) => ({ _id: 'hardState', term: 2, votedFor: 'n1', commitIndex });

/** Every file in `dir` and its bytes, to show a refused open changed, created and renamed nothing. */
async function snapshot(dir: string): Promise<Record<string, Buffer>> {
  const names = (await readdir(dir)).sort();
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await readFile(join(dir, name))])));
}

async function refusal(dir: string, options: StorageOptions = {}): Promise<CorruptDatafileError> {
  const err: unknown = await RaftStorage.open(dir, options).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CorruptDatafileError);
  return err as CorruptDatafileError;
}

describe('a refused open leaves the datafiles exactly as found', () => {
  it('names the line of a gap in the original log.db', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), gappedLog);
    const before = await snapshot(dir);

    const err = await refusal(dir);
    expect(err.message).toBe(`${join(dir, 'log.db')} line 6: entry 5 follows entry 3: entries 4..4 are missing`);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('names the line of a commitIndex past the log in the original state.db', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), [logDoc(1, 1), logDoc(2, 1), logDoc(2, 2)].map(docLine).join(''));
    await writeFile(join(dir, 'state.db'), [hardState(1), hardState(2), hardState(9)].map(docLine).join(''));
    const before = await snapshot(dir);

    const err = await refusal(dir);
    expect(err.message).toBe(`${join(dir, 'state.db')} line 3: commitIndex 9 is past the last log entry 2`);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('gives the same error on every attempt', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), gappedLog);
    await writeFile(join(dir, 'state.db'), [hardState(0), hardState(1)].map(docLine).join(''));

    const first = await refusal(dir);
    const second = await refusal(dir);
    expect(second.message).toBe(first.message);
  });

  it('keeps a torn last line too: the cut waits until the files are accepted', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), gappedLog + docLine(logDoc(6, 2)).slice(0, 20));
    const before = await snapshot(dir);
    const { events, onEvent } = eventLog();

    await refusal(dir, { onEvent });
    expect(events).toEqual([]);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('leaves an interrupted compaction under file~, and names file~', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db~'), gappedLog);
    const before = await snapshot(dir);

    const err = await refusal(dir);
    expect([err.file, err.line]).toEqual([join(dir, 'log.db~'), 6]);
    expect(await snapshot(dir)).toEqual(before);
  });
});

describe('a compacted log whose snapshot.bin is gone', () => {
  it('is refused, naming the missing snapshot and the way out; --rejoin-empty then starts empty', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), [logDoc(301, 2), logDoc(302, 2)].map(docLine).join(''));
    await writeFile(join(dir, 'state.db'), docLine(hardState(302)));
    const err = await refusal(dir);
    expect(err.message).toMatch(/the log starts at entry 301, not 1, and there is no snapshot.bin beside it to hold entries 1-300 \(was it deleted\?\); restore it, or start with --rejoin-empty/);
    const storage = await RaftStorage.open(dir, { rejoinEmpty: true });
    expect(storage.initialState().entries).toEqual([]);
    expect(storage.rejoined?.catchUpIndex).toBeGreaterThanOrEqual(302);
    await storage.close();
  });
});
