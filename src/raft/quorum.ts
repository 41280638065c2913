/**
 * Votes or acknowledgements needed out of `size` voters: a strict majority, so any two
 * quorums share a voter (§5.2: at most one leader per term; §5.4: commits survive).
 */
export function quorum(size: number): number {
  return Math.floor(size / 2) + 1;
}

/**
 * The highest index that a quorum has reached, given one match index per voter (the
 * leader's own included): sort descending and take the quorum-th; 0 for no voters.
 * Everything at or below it is on a majority of logs (§5.3). Also used for ReadIndex
 * rounds, where the "indexes" are acknowledged round numbers.
 */
export function quorumIndex(matchIndexes: number[]): number {
  const sorted = [...matchIndexes].sort((a, b) => b - a);
  return sorted[quorum(sorted.length) - 1] ?? 0;
}
