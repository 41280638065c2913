import prettyBytes from 'pretty-bytes';
import type { WireStatus } from './wire.ts';

// What a server holds, as `raftkv status` and the terminal UI show it.

/**
 * "12000/11.8MiB" (one word, so a status line splits on blanks): how many entries a server's log holds (lastLogIndex - firstLogIndex
 * + 1: after compaction, only those above its snapshot's compaction point) and the size of
 * its log on disk, for `raftkv status` and the terminal UI.
 */
export function logSize(st: Pick<WireStatus, 'lastLogIndex' | 'firstLogIndex' | 'logBytes'>): string {
  return `${logEntries(st)}/${prettyBytes(st.logBytes, { binary: true, maximumFractionDigits: 1, space: false })}`;
}

/** "212MiB": a server process's resident memory ("-" from a server too old to say). */
export function memorySize(st: Pick<WireStatus, 'rssBytes'>): string {
  return st.rssBytes > 0 ? prettyBytes(st.rssBytes, { binary: true, maximumFractionDigits: 0, space: false }) : '-';
}

/** Entries a server's log holds: lastLogIndex - firstLogIndex + 1 (firstLogIndex 0 from an older server counts as 1). */
export function logEntries(st: Pick<WireStatus, 'lastLogIndex' | 'firstLogIndex'>): number {
  return Math.max(0, st.lastLogIndex - Math.max(1, st.firstLogIndex) + 1);
}
