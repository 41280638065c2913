/**
 * What the store reports as it works. Durability is a question of order (the append's
 * write, then its fsync, then the caller hears back), so tests observe the order here.
 * Each event is reported once its step is done, before the next step starts, so a
 * listener that copies the data directory (synchronously) sees what a crash right
 * there would leave on disk.
 *
 * - `repair`: a torn last line of `file` was cut off at open (`bytes` bytes from `line`).
 * - `append`: `lines` lines were appended to a datafile (not yet fsynced).
 * - `fsync`: a datafile's appends so far are durable.
 * - `compact`: NeDB rewrote `file` with its live documents only (write `file~`, fsync,
 *   rename over `file`, fsync the directory): durable.
 * - `resolve`: a batch of `saves` saves was resolved.
 * - `snapshot-write`: the snapshot at `index` was written to the temp file `file`
 *   (`bytes` bytes, header included), not yet fsynced.
 * - `snapshot-fsync`: the temp file is durable.
 * - `snapshot-rename`: the temp file was renamed over the snapshot file `file` (the
 *   rename is durable only after the next step).
 * - `snapshot-sync-dir`: the data directory `file` was fsynced: the new snapshot is durable.
 * - `truncate`: log entries `from`..`to` were dropped from `file`'s documents in memory
 *   (below a snapshot, or the whole log an installed snapshot replaces); nothing on disk
 *   changed yet: the `compact` that follows rewrites the file without them.
 */
export type StorageEvent =
  | { type: 'repair'; file: string; line: number; bytes: number }
  | { type: 'append'; file: string; lines: number }
  | { type: 'fsync'; file: string }
  | { type: 'compact'; file: string }
  | { type: 'resolve'; saves: number }
  | { type: 'snapshot-write'; file: string; index: number; bytes: number }
  | { type: 'snapshot-fsync'; file: string }
  | { type: 'snapshot-rename'; file: string; index: number }
  | { type: 'snapshot-sync-dir'; file: string }
  | { type: 'truncate'; file: string; from: number; to: number };

export type StorageEventListener = (event: StorageEvent) => void;
