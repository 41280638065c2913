import { decodeConfEntry } from '../raft/conf-change.ts';
import type { Entry, SnapshotMeta } from '../raft/types.ts';
import { crc32 } from './checksum.ts';
import { CorruptDatafileError, LostEntriesError } from './corrupt-datafile-error.ts';
import type { Doc, LiveDoc } from './read-datafile.ts';

/** _id is the index, so replacing an entry means removing exactly the ids being replaced. */
export function entryId(index: number): string {
  return String(index);
}

/**
 * A log record: the entry's fields and `crc`, the CRC-32 of index, term, kind, trace id
 * and data (entryCrc), verified on every load as etcd's WAL and LogCabin's segments
 * verify theirs. Records written before checksums existed have none and load unchecked.
 */
export function toLogDoc(entry: Entry): Doc {
  const doc: Doc = { _id: entryId(entry.index), index: entry.index, term: entry.term, kind: entry.kind, data: entry.data };
  if (entry.traceId !== undefined) doc.traceId = entry.traceId;
  doc.crc = entryCrc(entry);
  return doc;
}

/** CRC-32 of an entry's content: a fixed-order header, then the data itself (no copy of it). */
export function entryCrc(entry: Entry): number {
  return crc32(entry.data, crc32(JSON.stringify([entry.index, entry.term, entry.kind, entry.traceId ?? null])));
}

/** What log.db holds, read against the snapshot (decodeLog). */
export interface DecodedLog {
  /** The entries to keep: after the snapshot's index, contiguous from index + 1 (from 1 without one). */
  entries: Entry[];
  /** Ids of the records not kept (at or below the snapshot's index, or the whole log when disconnected). */
  dropped: string[];
  /**
   * Why the whole log was dropped, or null: it does not connect to the snapshot (it
   * holds the snapshot's index with another term, or ends below it).
   */
  disconnected: { reason: 'term' | 'short'; problem: string } | null;
}

/**
 * The log in index order, checked against `snapshot` (the durable snapshot's index and
 * term, null without one). Every record is checked on its own (fields, CRC), then:
 *
 * - Without a snapshot: indexes contiguous from 1 and terms never decreasing. A gap or a
 *   step back means entries were lost or written out of order, and the Raft core would
 *   build on it; stop and name the line instead.
 * - With a snapshot at (S, T), entries below S are covered by it and dropped, whatever
 *   they are (a compaction may have stopped part-way). If the log holds entry S with term
 *   T it connects: entries from S on must be contiguous with terms never decreasing, and
 *   those after S are kept. If it holds S with another term, or nothing from S on (it
 *   ends below S), it does not connect: all of it is dropped and `disconnected` says why
 *   (the caller decides whether the watermark allows that). If it lacks S but holds
 *   entries after it, they must start at S + 1 (as after an install or a compaction up to
 *   S) with a term at least T: a first entry past S + 1 is a gap (LostEntriesError).
 */
export function decodeLog(file: string, live: Map<string, LiveDoc>, snapshotMeta: SnapshotMeta | null = null): DecodedLog {
  const snapshot = snapshotMeta !== null && snapshotMeta.index > 0 ? snapshotMeta : null;
  const stored = [...live.values()].map(({ doc, line }) => ({ entry: toEntry(doc, file, line), line }));
  stored.sort((a, b) => a.entry.index - b.entry.index);
  const at = snapshot?.index ?? 0;
  const from = stored.findIndex(({ entry }) => entry.index >= at);
  const covered = from === -1 ? stored : stored.slice(0, from);
  const rest = from === -1 ? [] : stored.slice(from);
  const ids = (records: typeof stored) => records.map(({ entry }) => entryId(entry.index));
  if (snapshot !== null) {
    const first = rest[0];
    let disconnected: DecodedLog['disconnected'] = null;
    if (first?.entry.index === snapshot.index && first.entry.term !== snapshot.term) {
      disconnected = {
        reason: 'term',
        problem: `holds entry ${snapshot.index} with term ${first.entry.term}, where the snapshot covers it with term ${snapshot.term}`,
      };
    } else if (first === undefined && covered.length > 0) {
      disconnected = { reason: 'short', problem: `ends at entry ${covered.at(-1)!.entry.index}, below the snapshot's index ${snapshot.index}` };
    }
    if (disconnected !== null) return { entries: [], dropped: ids(stored), disconnected };
    if (first !== undefined && first.entry.index > snapshot.index + 1) {
      throw new LostEntriesError(
        file,
        snapshot.index + 1,
        first.entry.index - 1,
        `the log starts at entry ${first.entry.index} but the snapshot ends at ${snapshot.index}: ` +
          `${first.entry.index - 1 === snapshot.index + 1 ? `entry ${snapshot.index + 1} is` : `entries ${snapshot.index + 1}-${first.entry.index - 1} are`} missing (the file was truncated or damaged)`,
      );
    }
    if (first !== undefined && first.entry.term < snapshot.term) {
      throw new CorruptDatafileError(file, first.line, `entry ${first.entry.index} has term ${first.entry.term}, below the snapshot's term ${snapshot.term}`);
    }
  }
  rest.forEach(({ entry, line }, i) => {
    const previous = rest[i - 1]?.entry;
    if (previous === undefined) {
      if (snapshot === null && entry.index !== 1) {
        // A log that starts later was compacted: the snapshot holding what came before is gone.
        throw new CorruptDatafileError(file, line, `the log starts at entry ${entry.index}, not 1, and there is no snapshot.bin beside it to hold entries 1-${entry.index - 1} (was it deleted?); restore it, or start with --rejoin-empty to rejoin as an empty node`);
      }
      return;
    }
    if (entry.index !== previous.index + 1) {
      throw new CorruptDatafileError(
        file,
        line,
        `entry ${entry.index} follows entry ${previous.index}: entries ${previous.index + 1}..${entry.index - 1} are missing`,
      );
    }
    if (entry.term < previous.term) {
      throw new CorruptDatafileError(
        file,
        line,
        `entry ${entry.index} has term ${entry.term}, below the term ${previous.term} of entry ${previous.index}`,
      );
    }
  });
  const kept = rest.filter(({ entry }) => entry.index > at);
  const dropped = [...covered, ...rest.filter(({ entry }) => entry.index <= at)];
  return { entries: kept.map(({ entry }) => entry), dropped: ids(dropped), disconnected: null };
}

function toEntry(doc: Doc, file: string, line: number): Entry {
  const { _id, index, term, kind, data, traceId, crc } = doc;
  const bad = (problem: string) => new CorruptDatafileError(file, line, `log entry ${_id}: ${problem}`);
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 1 || _id !== entryId(index)) {
    throw bad(`index ${String(index)} is not a positive integer matching its _id`);
  }
  if (typeof term !== 'number' || !Number.isInteger(term) || term < 0) throw bad(`term ${String(term)} is not a term`);
  if (kind !== 'noop' && kind !== 'command' && kind !== 'config') throw bad(`kind ${String(kind)} is not noop, command or config`);
  if (typeof data !== 'string') throw bad('data is not a string');
  if (traceId !== undefined && typeof traceId !== 'string') throw bad('traceId is not a string');
  const entry: Entry = traceId === undefined ? { index, term, kind, data } : { index, term, kind, data, traceId };
  if (crc !== undefined && crc !== entryCrc(entry)) {
    throw bad(`checksum mismatch (stored ${String(crc)}, computed ${entryCrc(entry)}): the record was damaged on disk`);
  }
  // The Raft core reads a config entry's data (the membership from then on), and would refuse the whole log on a bad one.
  if (kind === 'config') {
    try {
      decodeConfEntry(data);
    } catch (err) {
      throw bad((err as Error).message);
    }
  }
  return entry;
}
