import { describe, expect, it } from 'vitest';
import { jointIndex, jointVote, majorityVote, quorum, quorumIndex } from '../../src/raft/quorum.ts';
import { seededRng } from '../../src/raft/rng.ts';

/** The definition, computed the slow way: the highest index held by more than half. */
function majorityIndex(matches: number[]): number {
  let best = 0;
  for (const candidate of new Set([0, ...matches])) {
    const holders = matches.filter((m) => m >= candidate).length;
    if (2 * holders > matches.length) best = Math.max(best, candidate);
  }
  return best;
}

describe('quorum', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 4],
    [7, 4],
    [8, 5],
  ])('a cluster of %i needs %i', (size, needed) => {
    expect(quorum(size)).toBe(needed);
    // Strictly more than half, and no fewer would do: two disjoint groups of that size cannot both exist.
    expect(2 * needed).toBeGreaterThan(size);
    expect(2 * (needed - 1)).toBeLessThanOrEqual(size);
  });
});

describe('quorumIndex', () => {
  for (let size = 1; size <= 8; size++) {
    it(`${size} voters: the highest index a majority holds`, () => {
      // Distinct positions 1..size, in every rotation: the answer is size - quorum + 1.
      const distinct = Array.from({ length: size }, (_, i) => i + 1);
      for (let r = 0; r < size; r++) {
        const rotated = [...distinct.slice(r), ...distinct.slice(0, r)];
        expect(quorumIndex(rotated), `matches ${rotated}`).toBe(size - quorum(size) + 1);
      }
      // A single voter far ahead commits nothing by itself (unless it is the only one).
      const oneAhead = [100, ...Array.from({ length: size - 1 }, () => 3)];
      expect(quorumIndex(oneAhead)).toBe(size === 1 ? 100 : 3);
      // Exactly half ahead is not a majority.
      const half = Math.floor(size / 2);
      const halfAhead = [...Array.from({ length: half }, () => 9), ...Array.from({ length: size - half }, () => 4)];
      expect(quorumIndex(halfAhead), `matches ${halfAhead}`).toBe(4);
      // A bare majority ahead is.
      const majority = quorum(size);
      const majorityAhead = [...Array.from({ length: majority }, () => 9), ...Array.from({ length: size - majority }, () => 4)];
      expect(quorumIndex(majorityAhead), `matches ${majorityAhead}`).toBe(9);
      // Random match indexes, with ties, against the definition.
      const rng = seededRng(size * 7919);
      for (let k = 0; k < 200; k++) {
        const matches = Array.from({ length: size }, () => rng.int(0, 6));
        expect(quorumIndex(matches), `matches ${matches}`).toBe(majorityIndex(matches));
      }
    });
  }

  it('does not reorder the array it is given', () => {
    const matches = [3, 1, 2, 5];
    quorumIndex(matches);
    expect(matches).toEqual([3, 1, 2, 5]);
  });

  it('is 0 for no voters', () => {
    expect(quorumIndex([])).toBe(0);
  });
});

describe('joint quorums (Raft §6: separate majorities of C_old and C_new)', () => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];

  /** The definition, the slow way: the highest index held by a majority of C_new and by one of C_old (an empty half imposes nothing). */
  function slowJointIndex(cNew: string[], cOld: string[], match: Map<string, number>): number {
    let best = 0;
    for (const candidate of new Set([0, ...match.values()])) {
      const holds = (set: string[]) => set.length === 0 || 2 * set.filter((id) => (match.get(id) ?? 0) >= candidate).length > set.length;
      if (holds(cNew) && holds(cOld)) best = Math.max(best, candidate);
    }
    return cNew.length === 0 && cOld.length === 0 ? 0 : best;
  }

  function slowVote(set: string[], votes: Map<string, boolean>): 'won' | 'lost' | 'pending' {
    if (set.length === 0) return 'won';
    const yes = set.filter((id) => votes.get(id) === true).length;
    const no = set.filter((id) => votes.get(id) === false).length;
    if (2 * yes > set.length) return 'won';
    if (2 * no >= set.length) return 'lost';
    return 'pending';
  }

  it('jointIndex and jointVote agree with the definition on random configurations', () => {
    const rng = seededRng(4242);
    for (let k = 0; k < 2000; k++) {
      const pick = () => ids.filter(() => rng.next() < 0.5);
      const cNew = pick();
      const cOld = rng.next() < 0.3 ? [] : pick();
      const match = new Map(ids.map((id) => [id, rng.int(0, 5)]));
      const votes = new Map<string, boolean>();
      for (const id of ids) if (rng.next() < 0.7) votes.set(id, rng.next() < 0.5);
      const label = `C_new ${cNew} C_old ${cOld} match ${[...match]} votes ${[...votes]}`;
      expect(jointIndex({ voters: cNew, votersOutgoing: cOld }, (id) => match.get(id)!), label).toBe(slowJointIndex(cNew, cOld, match));
      const a = slowVote(cNew, votes);
      const b = slowVote(cOld, votes);
      const expected = a === 'won' && b === 'won' ? 'won' : a === 'lost' || b === 'lost' ? 'lost' : 'pending';
      expect(jointVote({ voters: cNew, votersOutgoing: cOld }, votes), label).toBe(expected);
    }
  });

  it('a majority of one half is not enough while joint', () => {
    // C_old {a,b,c}, C_new {c,d,e}: a, b and c agree (all of C_old, one of C_new).
    const cs = { voters: ['c', 'd', 'e'], votersOutgoing: ['a', 'b', 'c'] };
    const match = new Map([['a', 9], ['b', 9], ['c', 9], ['d', 2], ['e', 2]]);
    expect(jointIndex(cs, (id) => match.get(id) ?? 0)).toBe(2);
    expect(jointVote(cs, new Map([['a', true], ['b', true], ['c', true]]))).toBe('pending');
    expect(jointVote(cs, new Map([['a', true], ['b', true], ['c', true], ['d', true]]))).toBe('won');
    expect(jointVote(cs, new Map([['d', false], ['e', false]]))).toBe('lost');
  });

  it('answers from outside the voters never count (learners, strangers)', () => {
    expect(majorityVote(['a', 'b', 'c'], new Map([['a', true], ['x', true], ['y', true]]))).toBe('pending');
    expect(jointIndex({ voters: ['a', 'b', 'c'], votersOutgoing: [] }, (id) => (id === 'a' ? 7 : id.startsWith('l') ? 9 : 0))).toBe(0);
    expect(jointIndex({ voters: [], votersOutgoing: [] }, () => 5)).toBe(0);
  });
});
