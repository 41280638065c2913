import type { Entry, HardState, SnapshotMeta } from '../raft/types.ts';

/** The log as the operations issued so far leave it. */
export interface LogTail {
  /** max(snapshotIndex, the last entry's index). */
  lastIndex: number;
  /** The last entry's term, or snapshotTerm when the log holds nothing after the snapshot. */
  lastTerm: number;
  commitIndex: number;
  /** The latest snapshot's index and term (installed or taken), 0 when none. */
  snapshotIndex: number;
  snapshotTerm: number;
}

/**
 * Why a save would break the log's invariants, or null. Checked when save() is called,
 * so a wrong caller fails at the wrong call and not at the next open. Never replacing a
 * committed entry is also what lets a hard state be written alongside a truncation.
 *
 * With `snapshot` (an install, Raft §7): it must be newer than the current snapshot and
 * past the commit index (an older one changes nothing, and discarding the log would
 * discard committed entries), and the entries saved with it must start at its index + 1.
 * No save may rewrite an entry at or below the snapshot's index: a snapshot holds only
 * committed entries.
 */
export function checkSave(log: LogTail, hardState: HardState | null, entries: Entry[], snapshot: SnapshotMeta | null = null): string | null {
  if (snapshot !== null) {
    if (!isIndex(snapshot.index) || snapshot.index < 1 || !isIndex(snapshot.term)) {
      return `snapshot index ${String(snapshot.index)} and term ${String(snapshot.term)} are not a positive index and a term`;
    }
    if (snapshot.index <= log.snapshotIndex) return `snapshot ${snapshot.index} is not newer than the current snapshot ${log.snapshotIndex}`;
    if (snapshot.index <= log.commitIndex) {
      return `snapshot ${snapshot.index} is at or below commitIndex ${log.commitIndex}: installing it would discard committed entries`;
    }
    if (entries.length > 0 && entries[0].index !== snapshot.index + 1) {
      return `entries saved with snapshot ${snapshot.index} start at ${entries[0].index}, not ${snapshot.index + 1}`;
    }
    // What follows checks the entries against the log as the install leaves it.
    log = { lastIndex: snapshot.index, lastTerm: snapshot.term, commitIndex: snapshot.index, snapshotIndex: snapshot.index, snapshotTerm: snapshot.term };
  }
  const first = entries[0];
  if (first !== undefined) {
    if (first.index <= log.snapshotIndex) {
      return `entry ${first.index} is covered by the snapshot at ${log.snapshotIndex} and cannot be rewritten`;
    }
    if (first.index < 1 || first.index > log.lastIndex + 1) {
      return `entries start at ${first.index} but the log ends at ${log.lastIndex}`;
    }
    if (first.index <= log.commitIndex) {
      return `entry ${first.index} is committed (commitIndex ${log.commitIndex}) and cannot be replaced`;
    }
    if (first.index === log.lastIndex + 1 && first.term < log.lastTerm) {
      return `entry ${first.index} has term ${first.term}, below the last term ${log.lastTerm}`;
    }
    for (let i = 1; i < entries.length; i++) {
      const [previous, entry] = [entries[i - 1], entries[i]];
      if (entry.index !== previous.index + 1) return `entry ${entry.index} follows entry ${previous.index}`;
      if (entry.term < previous.term) return `entry ${entry.index} has term ${entry.term}, below entry ${previous.index}'s ${previous.term}`;
    }
  }
  const lastIndex = entries.at(-1)?.index ?? log.lastIndex;
  if (hardState !== null && hardState.commitIndex > lastIndex) {
    return `commitIndex ${hardState.commitIndex} is past the last entry ${lastIndex}`;
  }
  return null;
}

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
