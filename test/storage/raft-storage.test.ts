import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { RaftStorage } from '../../src/storage/raft-storage.ts';
import { entries, entry, tempDir } from './helpers.ts';

describe('RaftStorage save and reopen', () => {
  it('starts empty', async () => {
    const store = await RaftStorage.open(await tempDir());
    expect(store.initialState()).toEqual({ hardState: { term: 0, votedFor: null, commitIndex: 0 }, entries: [], snapshot: null });
    expect([store.lastIndex(), store.lastTerm()]).toEqual([0, 0]);
    await store.close();
  });

  it('round-trips hard state and entries, traceId included', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    const saved = [entry(1, 1), { index: 2, term: 1, kind: 'noop' as const, data: '' }, { ...entry(3, 2), traceId: 'op-7' }];
    await store.save({ term: 2, votedFor: 'n3', commitIndex: 0 }, saved);
    await store.save({ term: 2, votedFor: 'n3', commitIndex: 2 }, []);
    expect([store.lastIndex(), store.lastTerm()]).toEqual([3, 2]);
    await store.close();

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState()).toEqual({ hardState: { term: 2, votedFor: 'n3', commitIndex: 2 }, entries: saved, snapshot: null });
    expect([reopened.lastIndex(), reopened.lastTerm()]).toEqual([3, 2]);
    await reopened.close();
  });

  it('replaces a conflicting suffix, and the replacement survives reopen', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    await store.save({ term: 2, votedFor: null, commitIndex: 2 }, [...entries(1, 3, 1), ...entries(4, 6, 2)]);
    await store.save({ term: 3, votedFor: 'n2', commitIndex: 2 }, [entry(4, 3, 'new-4'), entry(5, 3, 'new-5')]);
    expect([store.lastIndex(), store.lastTerm()]).toEqual([5, 3]);
    await store.close();

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState().entries).toEqual([...entries(1, 3, 1), entry(4, 3, 'new-4'), entry(5, 3, 'new-5')]);
    expect([reopened.lastIndex(), reopened.lastTerm()]).toEqual([5, 3]);
    await reopened.close();
  });

  it('applies concurrent saves in call order, later ones overwriting earlier ones', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    await Promise.all([
      store.save({ term: 1, votedFor: 'n1', commitIndex: 0 }, entries(1, 5, 1)),
      store.save(null, [entry(3, 2, 'b-3'), entry(4, 2, 'b-4')]),
      store.save({ term: 2, votedFor: 'n2', commitIndex: 1 }, [entry(5, 2, 'c-5')]),
      store.save(null, [entry(4, 3, 'd-4')]),
    ]);
    await store.close();

    const reopened = await RaftStorage.open(dir);
    expect(reopened.initialState()).toEqual({
      hardState: { term: 2, votedFor: 'n2', commitIndex: 1 },
      entries: [...entries(1, 2, 1), entry(3, 2, 'b-3'), entry(4, 3, 'd-4')],
      snapshot: null,
    });
    await reopened.close();
  });

  it('rejects saves that would break the log, and stays usable', async () => {
    const store = await RaftStorage.open(await tempDir());
    await store.save({ term: 2, votedFor: null, commitIndex: 2 }, entries(1, 3, 2));
    await expect(store.save(null, [entry(5, 2)])).rejects.toThrow(/entries start at 5 but the log ends at 3/);
    await expect(store.save(null, [entry(2, 3)])).rejects.toThrow(/entry 2 is committed \(commitIndex 2\)/);
    await expect(store.save(null, [entry(4, 1)])).rejects.toThrow(/entry 4 has term 1, below the last term 2/);
    await expect(store.save(null, [entry(4, 2), entry(6, 2)])).rejects.toThrow(/entry 6 follows entry 4/);
    await expect(store.save({ term: 2, votedFor: null, commitIndex: 4 }, [])).rejects.toThrow(/commitIndex 4 is past the last entry 3/);
    expect([store.lastIndex(), store.lastTerm()]).toEqual([3, 2]);
    await store.save(null, [entry(4, 2)]);
    expect(store.lastIndex()).toBe(4);
    await store.close();
  });

  it('close waits for pending saves and refuses later ones', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    let saved = false;
    const pending = store.save(null, entries(1, 50, 1)).then(() => {
      saved = true;
    });
    await store.close();
    expect(saved).toBe(true);
    await pending;
    await expect(store.save(null, [entry(51, 1)])).rejects.toThrow(/closed/);
    const reopened = await RaftStorage.open(dir);
    expect(reopened.lastIndex()).toBe(50);
    await reopened.close();
  });

  it('after a failed write, rejects that save and every later one', async () => {
    const dir = await tempDir();
    const store = await RaftStorage.open(dir);
    await store.save(null, [entry(1, 1)]);
    await rm(dir, { recursive: true, force: true });
    await expect(store.save(null, [entry(2, 1)])).rejects.toThrow(/failed and takes no more saves/);
    await expect(store.save(null, [entry(3, 1)])).rejects.toThrow(/failed and takes no more saves/);
    await store.close();
  });
});
