/** Votes or acknowledgements needed out of `size` voters. */
export function quorum(size: number): number {
  return Math.floor(size / 2) + 1;
}

/**
 * The highest index that a quorum has reached: sort the match indexes descending and
 * take the quorum-th. Everything at or below it is on a majority of logs.
 */
export function quorumIndex(matchIndexes: number[]): number {
  const sorted = [...matchIndexes].sort((a, b) => b - a);
  return sorted[quorum(sorted.length) - 1] ?? 0;
}
