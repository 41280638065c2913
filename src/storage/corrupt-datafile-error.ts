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
