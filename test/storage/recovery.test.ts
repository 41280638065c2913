import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptDatafileError } from '../../src/storage/corrupt-datafile-error.ts';
import { RaftStorage } from '../../src/storage/raft-storage.ts';
import { docLine, entries, entry, eventLog, logDoc, tempDir } from './helpers.ts';

/** A store in `dir` holding entries 1..5 (term 1) and commitIndex 3. */
async function fiveEntries(dir: string): Promise<void> {
  const store = await RaftStorage.open(dir);
  await store.save({ term: 1, votedFor: 'n1', commitIndex: 3 }, entries(1, 5, 1));
  await store.close();
}

/** Opening must fail with a CorruptDatafileError naming this file and line. */
async function expectCorrupt(dir: string, file: string, lineNo: number | null, problem: RegExp): Promise<void> {
  const err = await RaftStorage.open(dir).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CorruptDatafileError);
  const corrupt = err as CorruptDatafileError;
  expect(corrupt.file).toBe(join(dir, file));
  expect(corrupt.line).toBe(lineNo);
  expect(corrupt.message).toContain(lineNo === null ? join(dir, file) : `${join(dir, file)} line ${lineNo}:`);
  expect(corrupt.message).toMatch(problem);
}

describe('opening damaged datafiles', () => {
  it('cuts a torn last line off and keeps everything before it', async () => {
    const dir = await tempDir();
    await fiveEntries(dir);
    const logFile = join(dir, 'log.db');
    const linesBefore = (await readFile(logFile, 'utf8')).split('\n').length - 1;
    await appendFile(logFile, docLine(logDoc(6, 1)).slice(0, 25));

    const { events, onEvent } = eventLog();
    const store = await RaftStorage.open(dir, { onEvent });
    expect(events).toContainEqual({ type: 'repair', file: logFile, line: linesBefore + 1, bytes: 25 });
    expect(store.initialState()).toEqual({ hardState: { term: 1, votedFor: 'n1', commitIndex: 3 }, entries: entries(1, 5, 1), snapshot: null });
    expect(await readFile(logFile, 'utf8')).not.toContain('"_id":"6","ind');
    await store.save(null, [entry(6, 1)]);
    await store.close();

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual(entries(1, 6, 1));
    await reopened.close();
  });

  it('refuses a corrupt line in the middle, names it, and leaves the file as found', async () => {
    const dir = await tempDir();
    await fiveEntries(dir);
    const logFile = join(dir, 'log.db');
    const lines = (await readFile(logFile, 'utf8')).split('\n');
    const broken = lines.findIndex((l) => l.includes('"_id":"3"'));
    lines[broken] = lines[broken].slice(0, 20);
    const damaged = lines.join('\n');
    await writeFile(logFile, damaged);

    await expectCorrupt(dir, 'log.db', broken + 1, /unreadable line/);
    expect(await readFile(logFile, 'utf8')).toBe(damaged);
    await expectCorrupt(dir, 'log.db', broken + 1, /unreadable line/);
  });

  it('refuses a parsable line NeDB would silently ignore (no _id)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), docLine(logDoc(1, 1)) + docLine({ index: 2, term: 1 }) + docLine(logDoc(3, 1)));
    await expectCorrupt(dir, 'log.db', 2, /not a NeDB document with an _id/);
  });

  it('refuses a gap in the indexes', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), docLine(logDoc(1, 1)) + docLine(logDoc(2, 1)) + docLine(logDoc(5, 1)) + docLine(logDoc(6, 1)));
    await expectCorrupt(dir, 'log.db', 3, /entry 5 follows entry 2: entries 3\.\.4 are missing/);
  });

  it('refuses a log that does not start at 1', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), docLine(logDoc(2, 1)) + docLine(logDoc(3, 1)));
    await expectCorrupt(dir, 'log.db', 1, /the log starts at entry 2, not 1/);
  });

  it('refuses terms that decrease', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), docLine(logDoc(1, 1)) + docLine(logDoc(2, 3)) + docLine(logDoc(3, 2)));
    await expectCorrupt(dir, 'log.db', 3, /entry 3 has term 2, below the term 3 of entry 2/);
  });

  it('refuses a commitIndex past the end of the log', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'log.db'), docLine(logDoc(1, 1)) + docLine(logDoc(2, 1)));
    await writeFile(join(dir, 'state.db'), docLine({ _id: 'hardState', term: 1, votedFor: null, commitIndex: 4 }));
    await expectCorrupt(dir, 'state.db', 1, /commitIndex 4 is past the last log entry 2/);
  });

  it('follows deletions when it replays the file', async () => {
    const dir = await tempDir();
    const file =
      docLine(logDoc(1, 1)) + docLine(logDoc(2, 1)) + docLine(logDoc(3, 1)) + docLine({ $$deleted: true, _id: '3' }) + docLine(logDoc(3, 2));
    await writeFile(join(dir, 'log.db'), file);
    await writeFile(join(dir, 'state.db'), docLine({ _id: 'hardState', term: 2, votedFor: null, commitIndex: 0 }));
    const store = await RaftStorage.open(dir);
    expect(store.initialState().entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
    await store.close();
  });

  it('loads a compaction that was renamed to file~ but not back', async () => {
    const dir = await tempDir();
    await fiveEntries(dir);
    await rename(join(dir, 'log.db'), join(dir, 'log.db~'));
    const store = await RaftStorage.open(dir);
    expect(store.initialState().entries).toEqual(entries(1, 5, 1));
    await store.close();
  });
});
