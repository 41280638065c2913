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

/** Where an election stands (etcd's VoteResult): won, lost (cannot be won), or pending. */
export type VoteResult = 'won' | 'lost' | 'pending';

/**
 * The outcome of a vote among `voters` (one majority configuration), given the answers
 * so far (`votes`: id -> granted). Answers from anyone not in `voters` do not count,
 * which keeps learners and strangers out of every majority. An empty `voters` is won
 * (it is the absent half of a configuration that is not joint; etcd does the same).
 */
export function majorityVote(voters: readonly string[], votes: ReadonlyMap<string, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const v of voters) {
    const g = votes.get(v);
    if (g === undefined) missing++;
    else if (g) granted++;
  }
  const q = quorum(voters.length);
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}

/**
 * The outcome of a vote under `cs`: while joint (paper §6), won only with a majority of
 * C_new (`voters`) and one of C_old (`votersOutgoing`); lost as soon as either is lost.
 */
export function jointVote(cs: { readonly voters: readonly string[]; readonly votersOutgoing: readonly string[] }, votes: ReadonlyMap<string, boolean>): VoteResult {
  const a = majorityVote(cs.voters, votes);
  const b = majorityVote(cs.votersOutgoing, votes);
  if (a === 'won' && b === 'won') return 'won';
  if (a === 'lost' || b === 'lost') return 'lost';
  return 'pending';
}

/**
 * The highest index a majority of `voters` has reached, given each voter's index
 * (`indexOf`); Infinity for no voters (the absent half of a configuration that is not
 * joint, so that the minimum below ignores it, as etcd's MajorityConfig does).
 */
export function majorityIndex(voters: readonly string[], indexOf: (id: string) => number): number {
  if (voters.length === 0) return Infinity;
  return quorumIndex(voters.map(indexOf));
}

/**
 * The highest index both majorities of `cs` have reached (etcd's JointConfig.CommittedIndex):
 * what a leader may commit, and which ReadIndex round is confirmed. 0 when `cs` has no
 * voter at all. A voter's own index counts only where it is a voter, so a leader that the
 * change removes manages the cluster without counting itself (thesis §4.2.2).
 */
export function jointIndex(cs: { readonly voters: readonly string[]; readonly votersOutgoing: readonly string[] }, indexOf: (id: string) => number): number {
  const index = Math.min(majorityIndex(cs.voters, indexOf), majorityIndex(cs.votersOutgoing, indexOf));
  return Number.isFinite(index) ? index : 0;
}
