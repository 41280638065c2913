import type { Entry } from '../raft/types.ts';
import { crc32 } from './checksum.ts';
import { CorruptDatafileError } from './corrupt-datafile-error.ts';
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

/**
 * The log in index order, checked: indexes contiguous from 1 and terms never
 * decreasing. A gap or a step back means entries were lost or written out of order,
 * and the Raft core would build on it; stop and name the line instead.
 */
export function decodeLog(file: string, live: Map<string, LiveDoc>): Entry[] {
  const stored = [...live.values()].map(({ doc, line }) => ({ entry: toEntry(doc, file, line), line }));
  stored.sort((a, b) => a.entry.index - b.entry.index);
  stored.forEach(({ entry, line }, i) => {
    const previous = stored[i - 1]?.entry;
    if (previous === undefined) {
      if (entry.index !== 1) throw new CorruptDatafileError(file, line, `the log starts at entry ${entry.index}, not 1`);
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
  return stored.map(({ entry }) => entry);
}

function toEntry(doc: Doc, file: string, line: number): Entry {
  const { _id, index, term, kind, data, traceId, crc } = doc;
  const bad = (problem: string) => new CorruptDatafileError(file, line, `log entry ${_id}: ${problem}`);
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 1 || _id !== entryId(index)) {
    throw bad(`index ${String(index)} is not a positive integer matching its _id`);
  }
  if (typeof term !== 'number' || !Number.isInteger(term) || term < 0) throw bad(`term ${String(term)} is not a term`);
  if (kind !== 'noop' && kind !== 'command') throw bad(`kind ${String(kind)} is neither noop nor command`);
  if (typeof data !== 'string') throw bad('data is not a string');
  if (traceId !== undefined && typeof traceId !== 'string') throw bad('traceId is not a string');
  const entry: Entry = traceId === undefined ? { index, term, kind, data } : { index, term, kind, data, traceId };
  if (crc !== undefined && crc !== entryCrc(entry)) {
    throw bad(`checksum mismatch (stored ${String(crc)}, computed ${entryCrc(entry)}): the record was damaged on disk`);
  }
  return entry;
}
