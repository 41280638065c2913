import type { HardState } from '../raft/types.ts';
import { CorruptDatafileError } from './corrupt-datafile-error.ts';
import type { Doc, LiveDoc } from './read-datafile.ts';

const HARD_STATE_ID = 'hardState';

/** A node that has never saved: term 0, no vote, nothing committed. */
const EMPTY: HardState = { term: 0, votedFor: null, commitIndex: 0 };

export function toStateDoc(hardState: HardState): Doc {
  return { _id: HARD_STATE_ID, term: hardState.term, votedFor: hardState.votedFor, commitIndex: hardState.commitIndex };
}

/**
 * The saved hard state, checked against the log it describes: saves never let a
 * commitIndex reach disk before the entries it covers, so one past the log is damage.
 */
export function decodeHardState(file: string, live: Map<string, LiveDoc>, lastIndex: number): HardState {
  const stranger = [...live.values()].find(({ doc }) => doc._id !== HARD_STATE_ID);
  if (stranger) throw new CorruptDatafileError(file, stranger.line, `unexpected document ${stranger.doc._id}`);
  const stored = live.get(HARD_STATE_ID);
  if (!stored) return { ...EMPTY };
  const { doc, line } = stored;
  const { term, votedFor, commitIndex } = doc;
  if (typeof term !== 'number' || !Number.isInteger(term) || term < 0) {
    throw new CorruptDatafileError(file, line, `term ${String(term)} is not a term`);
  }
  if (votedFor !== null && typeof votedFor !== 'string') {
    throw new CorruptDatafileError(file, line, `votedFor ${String(votedFor)} is neither a node id nor null`);
  }
  if (typeof commitIndex !== 'number' || !Number.isInteger(commitIndex) || commitIndex < 0) {
    throw new CorruptDatafileError(file, line, `commitIndex ${String(commitIndex)} is not an index`);
  }
  if (commitIndex > lastIndex) {
    throw new CorruptDatafileError(file, line, `commitIndex ${commitIndex} is past the last log entry ${lastIndex}`);
  }
  return { term, votedFor, commitIndex };
}
