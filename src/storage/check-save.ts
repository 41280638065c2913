import type { Entry, HardState } from '../raft/types.ts';

/** The log as the saves issued so far leave it. */
export interface LogTail {
  lastIndex: number;
  lastTerm: number;
  commitIndex: number;
}

/**
 * Why a save would break the log's invariants, or null. Checked when save() is called,
 * so a wrong caller fails at the wrong call and not at the next open. Never replacing a
 * committed entry is also what lets a hard state be written alongside a truncation.
 */
export function checkSave(log: LogTail, hardState: HardState | null, entries: Entry[]): string | null {
  const first = entries[0];
  if (first !== undefined) {
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
