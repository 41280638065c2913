import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/raft/log.ts';
import type { Entry } from '../../src/raft/types.ts';

/** Entries 1..n with the given terms: log(1, 1, 2) is [1:t1, 2:t1, 3:t2]. */
function entries(...terms: number[]): Entry[] {
  return terms.map((term, i) => ({ index: i + 1, term, kind: 'command', data: `e${i + 1}` }));
}

function from(index: number, ...terms: number[]): Entry[] {
  return terms.map((term, i) => ({ index: index + i, term, kind: 'command', data: `n${index + i}t${term}` }));
}

describe('RaftLog', () => {
  describe('construction', () => {
    it('refuses a persisted log with a gap or that does not start at 1', () => {
      expect(() => new RaftLog([{ index: 2, term: 1, kind: 'noop', data: '' }], 0, 0)).toThrow(/not contiguous|starts at 2/);
      const gap = entries(1, 1, 1);
      gap[2] = { ...gap[2], index: 4 };
      expect(() => new RaftLog(gap, 0, 0)).toThrow(/not contiguous at position 2/);
    });

    it('starts with everything persisted and nothing to hand out', () => {
      const log = new RaftLog(entries(1, 1, 2), 2, 1);
      expect([log.lastIndex(), log.lastTerm(), log.stableIndex, log.commitIndex, log.appliedIndex]).toEqual([3, 2, 3, 2, 1]);
      expect(log.hasUnstable()).toBe(false);
      expect(log.takeUnstable()).toEqual([]);
    });

    it('an applied index past the stored commit index raises it; neither passes the last entry', () => {
      expect(new RaftLog(entries(1, 1, 1), 1, 3).commitIndex).toBe(3);
      const clipped = new RaftLog(entries(1, 1), 5, 4);
      expect([clipped.commitIndex, clipped.appliedIndex]).toEqual([2, 2]);
      const lagging = new RaftLog(entries(1, 1, 1), 3, 0);
      expect([lagging.commitIndex, lagging.appliedIndex]).toEqual([3, 0]);
    });

    it('does not share entry objects with the caller', () => {
      const persisted = entries(1);
      const log = new RaftLog(persisted, 0, 0);
      persisted[0].term = 9;
      expect(log.term(1)).toBe(1);
    });
  });

  it('term() is 0 at index 0 (before the first entry) and past the last', () => {
    const log = new RaftLog(entries(1, 2), 0, 0);
    expect([log.term(0), log.term(1), log.term(2), log.term(3)]).toEqual([0, 1, 2, 0]);
    expect(new RaftLog([], 0, 0).lastTerm()).toBe(0);
  });

  it('slice() is inclusive, clipped to the log, and capped by max', () => {
    const log = new RaftLog(entries(1, 1, 1, 1, 1), 0, 0);
    expect(log.slice(2, 4).map((e) => e.index)).toEqual([2, 3, 4]);
    expect(log.slice(4, 99).map((e) => e.index)).toEqual([4, 5]);
    expect(log.slice(1, 5, 2).map((e) => e.index)).toEqual([1, 2]);
    expect(log.slice(6, 9)).toEqual([]);
    expect(log.slice(3, 2)).toEqual([]);
  });

  describe('isUpToDate (§5.4.1)', () => {
    // This log: last index 3, last term 2.
    const log = new RaftLog(entries(1, 2, 2), 0, 0);
    it.each([
      ['same last term, same length', 3, 2, true],
      ['same last term, one longer', 4, 2, true],
      ['same last term, one shorter', 2, 2, false],
      ['same last term, much shorter', 1, 2, false],
      ['newer last term, shorter', 1, 3, true],
      ['older last term, longer', 10, 1, false],
      ['older last term, same length', 3, 1, false],
      ['empty log', 0, 0, false],
    ])('%s: (%i, term %i) -> %s', (_, lastLogIndex, lastLogTerm, expected) => {
      expect(log.isUpToDate(lastLogIndex, lastLogTerm)).toBe(expected);
    });

    it('an empty log is matched by anything, even another empty log', () => {
      const empty = new RaftLog([], 0, 0);
      expect(empty.isUpToDate(0, 0)).toBe(true);
      expect(empty.isUpToDate(1, 1)).toBe(true);
    });
  });

  it('append() takes only the next index', () => {
    const log = new RaftLog(entries(1), 0, 0);
    expect(() => log.append(from(3, 1))).toThrow(/append at 3 but last index is 1/);
    expect(() => log.append(from(1, 1))).toThrow(/append at 1/);
    log.append(from(2, 1, 1));
    expect(log.lastIndex()).toBe(3);
  });

  describe('mergeFromLeader', () => {
    it('skips entries it already holds: nothing new to persist', () => {
      const log = new RaftLog(entries(1, 1, 2), 0, 0);
      log.mergeFromLeader(log.slice(2, 3).map((e) => ({ ...e })));
      expect(log.lastIndex()).toBe(3);
      expect(log.hasUnstable()).toBe(false);
    });

    it('appends what lies past its end', () => {
      const log = new RaftLog(entries(1, 1), 0, 0);
      log.mergeFromLeader([...log.slice(2, 2), ...from(3, 2, 2)]);
      expect(log.lastIndex()).toBe(4);
      expect(log.takeUnstable().map((e) => e.index)).toEqual([3, 4]);
    });

    it('truncates at the first conflict and takes the rest, even a shorter rest', () => {
      const log = new RaftLog(entries(1, 1, 1, 1, 1), 1, 1);
      log.mergeFromLeader(from(2, 1, 3));
      // 2 matched; 3 conflicted (term 3 against 1): 3..5 went, the leader's 3 came in.
      expect([log.lastIndex(), log.term(2), log.term(3), log.term(4)]).toEqual([3, 1, 3, 0]);
      expect(log.stableIndex).toBe(2);
      expect(log.takeUnstable()).toEqual(from(3, 3));
    });

    it('never truncates a committed entry', () => {
      const log = new RaftLog(entries(1, 1, 1), 2, 0);
      expect(() => log.mergeFromLeader(from(2, 5))).toThrow(/refusing to truncate committed entry 2/);
      expect(log.lastIndex()).toBe(3);
    });

    it('an old, shorter message from the same leader does not cut the log short', () => {
      const log = new RaftLog(entries(1, 1, 1, 1), 0, 0);
      log.mergeFromLeader(log.slice(1, 2).map((e) => ({ ...e })));
      expect(log.lastIndex()).toBe(4);
    });
  });

  describe('conflict hints', () => {
    // Terms by index: 1:1 2:1 3:2 4:2 5:2 6:4
    const log = new RaftLog(entries(1, 1, 2, 2, 2, 4), 0, 0);
    it('firstIndexOfTerm walks back to the start of the run', () => {
      expect(log.firstIndexOfTerm(5)).toBe(3);
      expect(log.firstIndexOfTerm(3)).toBe(3);
      expect(log.firstIndexOfTerm(2)).toBe(1);
      expect(log.firstIndexOfTerm(6)).toBe(6);
    });

    it('firstIndexOfTerm stops just after the commit index', () => {
      const committed = new RaftLog(entries(2, 2, 2, 2, 2), 3, 0);
      expect(committed.firstIndexOfTerm(5)).toBe(4);
    });

    it('lastIndexOfTerm finds the last entry of a term, 0 for a term it lacks', () => {
      expect(log.lastIndexOfTerm(2)).toBe(5);
      expect(log.lastIndexOfTerm(1)).toBe(2);
      expect(log.lastIndexOfTerm(4)).toBe(6);
      expect(log.lastIndexOfTerm(3)).toBe(0);
      expect(log.lastIndexOfTerm(5)).toBe(0);
    });
  });

  describe('the persistence frontier', () => {
    it('hands each new entry out once, and applies only what is both committed and stable', () => {
      const log = new RaftLog(entries(1), 1, 1);
      log.append(from(2, 1, 1));
      expect(log.hasUnstable()).toBe(true);
      const written = log.takeUnstable();
      expect(written.map((e) => e.index)).toEqual([2, 3]);
      expect(log.hasUnstable()).toBe(false);
      expect(log.takeUnstable()).toEqual([]);
      log.commitIndex = 3;
      // Committed (a quorum holds it) but not yet durable here: not applied yet.
      expect(log.hasCommittedToApply()).toBe(false);
      expect(log.takeCommitted()).toEqual([]);
      log.stableTo(written);
      expect(log.stableIndex).toBe(3);
      expect(log.hasCommittedToApply()).toBe(true);
      expect(log.takeCommitted().map((e) => e.index)).toEqual([2, 3]);
      expect(log.appliedIndex).toBe(3);
      expect(log.takeCommitted()).toEqual([]);
    });

    it('applies up to the commit index only', () => {
      const log = new RaftLog(entries(1, 1, 1, 1), 2, 0);
      expect(log.takeCommitted().map((e) => e.index)).toEqual([1, 2]);
      log.commitIndex = 3;
      expect(log.takeCommitted().map((e) => e.index)).toEqual([3]);
    });

    it('a write made stale by a truncation in flight is stable only up to what still matches', () => {
      const log = new RaftLog(entries(1), 1, 1);
      log.append(from(2, 1, 1, 1));
      const first = log.takeUnstable();
      // While 2..4 are being written, a new leader replaces 3.. with its own entries.
      log.mergeFromLeader(from(3, 2));
      expect(log.stableIndex).toBe(1);
      log.stableTo(first);
      // 2 was written and still matches; 3 and 4 were written but are no longer the log's.
      expect(log.stableIndex).toBe(2);
      const second = log.takeUnstable();
      expect(second).toEqual(from(3, 2));
      log.stableTo(second);
      expect(log.stableIndex).toBe(3);
    });

    it('a truncation below the stable index pulls it back and hands the replacement out', () => {
      const log = new RaftLog(entries(1, 1, 1, 1), 1, 1);
      log.mergeFromLeader(from(3, 2, 2));
      expect(log.stableIndex).toBe(2);
      expect(log.takeUnstable()).toEqual(from(3, 2, 2));
    });

    it('a write whose every entry was replaced makes nothing stable', () => {
      const log = new RaftLog(entries(1), 1, 1);
      log.append(from(2, 1));
      const written = log.takeUnstable();
      log.mergeFromLeader(from(2, 3));
      log.stableTo(written);
      expect(log.stableIndex).toBe(1);
    });
  });
});
