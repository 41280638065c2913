import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeConfEntry } from '../../src/raft/conf-change.ts';
import type { Entry } from '../../src/raft/types.ts';
import { CorruptDatafileError } from '../../src/storage/corrupt-datafile-error.ts';
import { toLogDoc } from '../../src/storage/log-docs.ts';
import { RaftStorage } from '../../src/storage/raft-storage.ts';
import { toStateDoc } from '../../src/storage/state-doc.ts';
import { docLine, entry, tempDir } from './helpers.ts';

/** The log holds config entries (Raft §6) like any other, and refuses one the core could not read. */
describe('config entries on disk', () => {
  const config: Entry = {
    index: 2,
    term: 1,
    kind: 'config',
    data: encodeConfEntry({ change: { changes: [{ type: 'addLearnerNode', nodeId: 'n4' }] }, conf: { voters: ['n1', 'n2', 'n3'], learners: ['n4'], votersOutgoing: [] } }),
  };

  it('a config entry survives save and reopen', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    const saved = [entry(1, 1), config, entry(3, 1)];
    await store.save({ term: 1, votedFor: 'n1', commitIndex: 0 }, saved);
    await store.close();
    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual(saved);
    await reopened.close();
  });

  it('a config entry whose data is not a ConfEntry is refused, naming its line', async () => {
    const dir = await tempDir();
    const bad = { ...config, data: '{"change":{"changes":[]},"conf":{"voters":["n1"],"learners":["n1"]}}' };
    await writeFile(join(dir, 'log.db'), [entry(1, 1), bad].map(toLogDoc).map(docLine).join(''));
    await writeFile(join(dir, 'state.db'), docLine(toStateDoc({ hardState: { term: 1, votedFor: null, commitIndex: 0 }, stableIndex: 2, incarnation: 1, catchUpIndex: 0 })));
    const err: unknown = await RaftStorage.open(dir).then(
      async (s) => {
        await s.close();
        return null;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CorruptDatafileError);
    expect((err as Error).message).toMatch(/line 2: log entry 2: ConfState: n1 is both a voter and a learner/);
  });
});
