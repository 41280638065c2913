/**
 * A datafile we cannot trust. Opening stops here instead of guessing which entries to
 * keep: a node that silently forgets an acknowledged entry breaks Raft's safety.
 */
export class CorruptDatafileError extends Error {
  constructor(
    readonly file: string,
    /** 1-based line of the file as found on disk; null when no single line is to blame. */
    readonly line: number | null,
    problem: string,
  ) {
    super(`${file}${line === null ? '' : ` line ${line}`}: ${problem}`);
    this.name = 'CorruptDatafileError';
  }
}

/**
 * The log on disk ends before entries this node acknowledged (state.db's watermark): the
 * file was truncated or damaged after they were written. Raft counted them toward
 * commits, so the node must not go on as if it never had them; only an operator's
 * explicit `--rejoin-empty` (RaftStorage.open's rejoinEmpty) lets it rejoin, empty.
 */
export class LostEntriesError extends CorruptDatafileError {
  constructor(
    file: string,
    /** The first and last index missing: acknowledged, and no longer in the file. */
    readonly missingFrom: number,
    readonly missingTo: number,
    /** What is wrong, when not the usual "acknowledged but missing" (e.g. a gap after the snapshot). */
    problem?: string,
  ) {
    super(
      file,
      null,
      (problem ??
        `${missingFrom === missingTo ? `entry ${missingFrom} was` : `entries ${missingFrom}-${missingTo} were`} acknowledged but ${missingFrom === missingTo ? 'is' : 'are'} missing ` +
          '(the file was truncated or damaged)') + '; start with --rejoin-empty to rejoin as an empty node',
    );
    this.name = 'LostEntriesError';
  }
}
