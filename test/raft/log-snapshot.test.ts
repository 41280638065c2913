import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/raft/log.ts';
import type { Entry, Snapshot } from '../../src/raft/types.ts';

const ent = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, kind: 'command', data });
const run = (from: number, to: number, term: number): Entry[] => Array.from({ length: to - from + 1 }, (_, k) => ent(from + k, term));
const snap = (index: number, term: number): Snapshot => ({ index, term, data: new Uint8Array([index]) });

describe('RaftLog with a snapshot offset', () => {
  it('answers term() at the snapshot index from the snapshot, refuses below it, and 0 past the end', () => {
    const log = new RaftLog(run(11, 15, 3), 12, 11, { index: 10, term: 2 });
    expect(log.snapshotIndex).toBe(10);
    expect(log.snapshotTerm).toBe(2);
    expect(log.firstIndex()).toBe(11);
    expect(log.lastIndex()).toBe(15);
    expect(log.term(10)).toBe(2);
    expect(log.term(11)).toBe(3);
    expect(log.term(16)).toBe(0);
    expect(() => log.term(9)).toThrow(/compacted/);
    expect(log.matchTerm(10, 2)).toBe(true);
    expect(log.matchTerm(10, 3)).toBe(false);
    expect(log.matchTerm(9, 2)).toBe(false);
  });

  it('an empty log after a snapshot reports the snapshot as its last entry', () => {
    const log = new RaftLog([], 0, 0, { index: 7, term: 4 });
    expect(log.lastIndex()).toBe(7);
    expect(log.lastTerm()).toBe(4);
    // Everything the snapshot covers is committed and, by the caller's restore, applied.
    expect(log.commitIndex).toBe(7);
    expect(log.appliedIndex).toBe(7);
    expect(log.isUpToDate(7, 4)).toBe(true);
    expect(log.isUpToDate(8, 3)).toBe(false);
  });

  it('drops a persisted tail kept below the snapshot, and refuses a gap or a term that contradicts it', () => {
    const log = new RaftLog(run(6, 14, 2), 9, 9, { index: 9, term: 2 });
    expect(log.firstIndex()).toBe(10);
    expect(log.slice(10, 14).map((e) => e.index)).toEqual([10, 11, 12, 13, 14]);
    expect(() => new RaftLog(run(12, 14, 2), 0, 0, { index: 10, term: 2 })).toThrow(/past the snapshot/);
    expect(() => new RaftLog(run(6, 14, 2), 0, 0, { index: 9, term: 1 })).toThrow(/term 2 but the snapshot there has term 1/);
    expect(() => new RaftLog([ent(11, 1), ent(13, 1)], 0, 0, { index: 10, term: 1 })).toThrow(/not contiguous/);
    expect(() => new RaftLog([ent(2, 1)], 0, 0)).toThrow(/past the snapshot at 0/);
  });

  it('slices from firstIndex on and refuses anything below it (the caller must send a snapshot)', () => {
    const log = new RaftLog(run(11, 20, 1), 20, 20, { index: 10, term: 1 });
    expect(log.slice(11, 13).map((e) => e.index)).toEqual([11, 12, 13]);
    expect(log.slice(18, 30, 2).map((e) => e.index)).toEqual([18, 19]);
    expect(log.slice(21, 30)).toEqual([]);
    expect(() => log.slice(10, 12)).toThrow(/compacted/);
    expect(() => log.slice(3, 12)).toThrow(/compacted/);
  });

  it('mergeFromLeader skips what the snapshot covers and appends or truncates after it', () => {
    const log = new RaftLog([...run(11, 12, 1), ...run(13, 14, 2)], 10, 10, { index: 10, term: 1 });
    // A leader's entries 8..15 straddle the snapshot: 8..10 are covered, 11..12 match,
    // 13 conflicts (term 3), so 13..14 are replaced.
    log.mergeFromLeader([...run(8, 12, 1), ...run(13, 15, 3)]);
    expect(log.firstIndex()).toBe(11);
    expect(log.slice(11, 15).map((e) => `${e.index}/${e.term}`)).toEqual(['11/1', '12/1', '13/3', '14/3', '15/3']);
    // Entries entirely below the snapshot change nothing.
    log.mergeFromLeader(run(5, 9, 1));
    expect(log.lastIndex()).toBe(15);
    expect(log.takeUnstable().map((e) => e.index)).toEqual([13, 14, 15]);
  });

  it('compact drops applied entries and remembers the term at the new start', () => {
    const log = new RaftLog([...run(1, 5, 1), ...run(6, 10, 2)], 10, 8);
    log.compact(7);
    expect(log.snapshotIndex).toBe(7);
    expect(log.snapshotTerm).toBe(2);
    expect(log.firstIndex()).toBe(8);
    expect(log.slice(8, 10).map((e) => e.index)).toEqual([8, 9, 10]);
    expect(log.lastIndexOfTerm(2)).toBe(10);
    // Term 1 lies entirely in the snapshot: the search stops there.
    expect(log.lastIndexOfTerm(1)).toBe(0);
    log.compact(5);
    expect(log.snapshotIndex).toBe(7);
    expect(() => log.compact(9)).toThrow(/only 8 is applied/);
    log.compact(8);
    expect(log.snapshotIndex).toBe(8);
    expect(log.takeCommitted().map((e) => e.index)).toEqual([9, 10]);
  });

  it('lastIndexOfTerm finds the snapshot index when the snapshot is the last entry of that term', () => {
    const log = new RaftLog(run(6, 8, 3), 5, 5, { index: 5, term: 2 });
    expect(log.lastIndexOfTerm(2)).toBe(5);
    expect(log.lastIndexOfTerm(3)).toBe(8);
  });

  it('restore replaces the whole log; the snapshot goes out once, and nothing is applied until it is durable', () => {
    const log = new RaftLog(run(1, 6, 1), 3, 3);
    log.mergeFromLeader(run(7, 8, 1));
    const s = snap(20, 4);
    log.restore(s);
    expect(log.firstIndex()).toBe(21);
    expect(log.lastIndex()).toBe(20);
    expect(log.lastTerm()).toBe(4);
    expect(log.commitIndex).toBe(20);
    expect(log.appliedIndex).toBe(20);
    expect(log.hasUnstable()).toBe(false);
    expect(log.hasUnstableSnapshot()).toBe(true);
    expect(log.takeUnstableSnapshot()).toBe(s);
    expect(log.takeUnstableSnapshot()).toBeNull();
    log.append(run(21, 22, 4));
    log.commitIndex = 22;
    expect(log.takeUnstable().map((e) => e.index)).toEqual([21, 22]);
    log.stableTo(run(21, 22, 4));
    // The entries are durable, but they follow a snapshot that is not yet.
    expect(log.hasCommittedToApply()).toBe(false);
    expect(log.takeCommitted()).toEqual([]);
    log.stableSnapTo(s);
    expect(log.takeCommitted().map((e) => e.index)).toEqual([21, 22]);
    expect(() => log.restore(snap(15, 4))).toThrow(/not past the commit index/);
  });

  it('a write finishing after a snapshot replaced its entries confirms nothing below the snapshot', () => {
    const log = new RaftLog([], 0, 0);
    log.append(run(1, 5, 1));
    const written = log.takeUnstable();
    log.restore(snap(10, 2));
    log.stableTo(written);
    expect(log.stableIndex).toBe(0);
    const s = log.takeUnstableSnapshot()!;
    log.stableSnapTo(s);
    expect(log.stableIndex).toBe(10);
  });

  it('a newer snapshot installed while an older one is being written still goes out', () => {
    const log = new RaftLog([], 0, 0);
    const older = snap(10, 1);
    log.restore(older);
    expect(log.takeUnstableSnapshot()).toBe(older);
    const newer = snap(20, 2);
    log.restore(newer);
    log.stableSnapTo(older);
    expect(log.hasUnstableSnapshot()).toBe(true);
    expect(log.takeUnstableSnapshot()).toBe(newer);
    log.stableSnapTo(newer);
    expect(log.stableIndex).toBe(20);
    expect(log.hasUnstableSnapshot()).toBe(false);
  });
});
