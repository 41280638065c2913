import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/raft/types.ts';
import { RaftStorage } from '../../src/storage/raft-storage.ts';
import { docLine, entry, tempDir } from './helpers.ts';

/**
 * Values holding characters NeDB's loader splits lines on (U+0085, U+2028, U+2029; JSON
 * leaves them as they are) must come back after a restart, whether the line was appended
 * by us or rewritten by NeDB, and a file written before they were escaped must still open.
 */
const ODD = ['line\u2028separator', 'para\u2029graph', 'next\u0085line', 'all\u2028\u2029\u0085three', 'not a character: \\u2028', '\u2028'];

function oddEntries(first: number, term: number): Entry[] {
  return ODD.map((text, i) => entry(first + i, term, JSON.stringify({ type: 'put', key: `k${i}`, value: text })));
}

const RAW = /[\u0085\u2028\u2029]/;

describe('values with characters NeDB takes for line ends', () => {
  it('come back after a restart, appended or rewritten by NeDB', async () => {
    const dir = await tempDir();
    const first = await RaftStorage.open(dir);
    await first.save({ term: 1, votedFor: 'n1', commitIndex: 0 }, oddEntries(1, 1));
    await first.close();
    expect(await readFile(join(dir, 'log.db'), 'utf8')).not.toMatch(RAW);

    const second = await RaftStorage.open(dir);
    expect(second.initialState().entries).toEqual(oddEntries(1, 1));
    // A new leader's entries replace 4..6: NeDB rewrites the file from what it holds.
    await second.save({ term: 2, votedFor: 'n2', commitIndex: 0 }, oddEntries(4, 2));
    await second.close();
    expect(await readFile(join(dir, 'log.db'), 'utf8')).not.toMatch(RAW);

    const third = await RaftStorage.open(dir);
    expect(third.initialState().entries).toEqual([...oddEntries(1, 1).slice(0, 3), ...oddEntries(4, 2)]);
    await third.close();
  });

  it('open from a file written before they were escaped, which is escaped in place', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    await store.save({ term: 1, votedFor: 'n1', commitIndex: 0 }, [entry(1, 1)]);
    await store.close();
    // The lines an older version appended: JSON.stringify, the characters as they are.
    const raw = oddEntries(2, 1).map((e) => docLine({ _id: String(e.index), index: e.index, term: e.term, kind: e.kind, data: e.data })).join('');
    expect(raw).toMatch(RAW);
    const log = join(dir, 'log.db');
    await writeFile(log, (await readFile(log, 'utf8')) + raw);

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual([entry(1, 1), ...oddEntries(2, 1)]);
    await reopened.close();
    expect(await readFile(log, 'utf8')).not.toMatch(RAW);
  });
});
