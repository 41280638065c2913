import type { HardState } from '../raft/types.ts';
import { crc32 } from './checksum.ts';
import { CorruptDatafileError } from './corrupt-datafile-error.ts';
import type { Doc, LiveDoc } from './read-datafile.ts';

const HARD_STATE_ID = 'hardState';

/**
 * What state.db holds: one document, rewritten (appended anew) by every write that
 * changes it.
 */
export interface StoredState {
  /** Raft's hard state: term, vote, and a commit index (saved when term or vote change). */
  hardState: HardState;
  /**
   * The log's acknowledged watermark: after its last completed write, log.db held entries
   * 1..stableIndex on disk. Written after that write's fsync and before save() resolves,
   * so everything this node ever acknowledged (or, leading, counted toward a commit) is
   * at or below it; lowered before a write replaces entries at or below it. A log that
   * loads shorter than this lost entries it promised. null: a document written before
   * the watermark existed.
   */
  stableIndex: number | null;
  /** Grows at every open (see RaftConfig.incarnation). */
  incarnation: number;
  /** Set when the node rejoined empty: the index its log must reach before it votes again (RaftConfig.catchUpIndex). */
  catchUpIndex: number;
}

/** A node that has never saved: term 0, no vote, nothing committed, nothing in the log. */
const EMPTY: StoredState = { hardState: { term: 0, votedFor: null, commitIndex: 0 }, stableIndex: 0, incarnation: 0, catchUpIndex: 0 };

/**
 * The document, with `crc`: the CRC-32 of its other fields in a fixed order (stateCrc),
 * verified on load.
 */
export function toStateDoc(state: StoredState): Doc {
  const { term, votedFor, commitIndex } = state.hardState;
  const doc: Doc = { _id: HARD_STATE_ID, term, votedFor, commitIndex, stableIndex: state.stableIndex ?? 0, incarnation: state.incarnation, catchUpIndex: state.catchUpIndex };
  doc.crc = stateCrc(doc);
  return doc;
}

function stateCrc(doc: Record<string, unknown>): number {
  return crc32(JSON.stringify([doc.term, doc.votedFor, doc.commitIndex, doc.stableIndex, doc.incarnation, doc.catchUpIndex]));
}

/**
 * The saved state, checked field by field and against its checksum. A document without
 * `crc` was written before checksums (and the watermark) existed: its fields are checked,
 * and its watermark is unknown (null).
 */
export function decodeState(file: string, live: Map<string, LiveDoc>): StoredState & { line: number | null } {
  const stranger = [...live.values()].find(({ doc }) => doc._id !== HARD_STATE_ID);
  if (stranger) throw new CorruptDatafileError(file, stranger.line, `unexpected document ${stranger.doc._id}`);
  const stored = live.get(HARD_STATE_ID);
  if (!stored) return { ...EMPTY, hardState: { ...EMPTY.hardState }, line: null };
  const { doc, line } = stored;
  const bad = (problem: string) => new CorruptDatafileError(file, line, problem);
  const { term, votedFor, commitIndex } = doc;
  if (!isIndex(term)) throw bad(`term ${String(term)} is not a term`);
  if (votedFor !== null && typeof votedFor !== 'string') throw bad(`votedFor ${String(votedFor)} is neither a node id nor null`);
  if (!isIndex(commitIndex)) throw bad(`commitIndex ${String(commitIndex)} is not an index`);
  const hardState = { term, votedFor, commitIndex };
  if (doc.crc === undefined) return { hardState, stableIndex: null, incarnation: 0, catchUpIndex: 0, line };
  for (const field of ['stableIndex', 'incarnation', 'catchUpIndex']) {
    if (!isIndex(doc[field])) throw bad(`${field} ${String(doc[field])} is not a non-negative integer`);
  }
  if (doc.crc !== stateCrc(doc)) throw bad(`checksum mismatch (stored ${String(doc.crc)}, computed ${stateCrc(doc)}): the record was damaged on disk`);
  const stableIndex = doc.stableIndex as number;
  // Every write puts the watermark at or past the commit index it writes beside it.
  if (commitIndex > stableIndex) throw bad(`commitIndex ${commitIndex} is past stableIndex ${stableIndex}, which the store never writes`);
  return { hardState, stableIndex, incarnation: doc.incarnation as number, catchUpIndex: doc.catchUpIndex as number, line };
}

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
