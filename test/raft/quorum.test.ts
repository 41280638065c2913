import { describe, expect, it } from 'vitest';
import { quorum, quorumIndex } from '../../src/raft/quorum.ts';
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
