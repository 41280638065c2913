import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { TraceRecord } from './record.ts';

/**
 * A process's own copy of what it recorded, written synchronously before any token can
 * leave the process. If the process is killed before its stream reaches the tracing
 * server, the restarted process sends the missing records from here, so no counter that
 * another host already saw in a token is ever missing from the log.
 *
 * Two segments, `file` and `file.1`, each starting with a header naming the run: once
 * the current one holds `keep` records it becomes `file.1` (a rename, no rewrite), so
 * the spool keeps between `keep` and 2 x `keep` of the latest records at O(1) cost.
 */
export class Spool {
  private lines = 0;
  /** Kept open: an append is then one write call, not an open, a write and a close. */
  private fd: number | null = null;

  constructor(
    private readonly file: string,
    private readonly run: string,
    private readonly keep = 10_000,
  ) {}

  /** Records of this run that survived the last life, oldest first; the rest is discarded. */
  load(): TraceRecord[] {
    const older = this.readSegment(`${this.file}.1`);
    const current = this.readSegment(this.file);
    // A torn line ends a segment's good part; the older segment can only be whole.
    const records = [...older, ...current];
    // The latest carry over into a fresh segment, so a second restart before any new
    // record still finds them; written aside and renamed in, so a crash here loses nothing.
    const carried = records.slice(-this.keep);
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, [this.header(), ...carried.map((r) => JSON.stringify(r))].join('\n') + '\n');
    renameSync(tmp, this.file);
    rmSync(`${this.file}.1`, { force: true });
    this.lines = carried.length;
    return records;
  }

  /** Appends records already serialized as JSON lines (no newline), in one write. */
  appendLines(lines: string[]): void {
    if (lines.length === 0) return;
    if (this.lines >= this.keep) this.rotate();
    this.fd ??= openSync(this.file, 'a');
    // Synchronous on purpose: the token that follows must not leave before these lines
    // are in the page cache, where a kill -9 of this process cannot take them.
    writeSync(this.fd, `${lines.join('\n')}\n`);
    this.lines += lines.length;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private rotate(): void {
    this.close();
    renameSync(this.file, `${this.file}.1`);
    this.startSegment();
  }

  private startSegment(): void {
    this.fd = openSync(this.file, 'w');
    writeSync(this.fd, `${this.header()}\n`);
    this.lines = 0;
  }

  private header(): string {
    return JSON.stringify({ run: this.run });
  }

  private readSegment(file: string): TraceRecord[] {
    if (!existsSync(file)) return [];
    const [header, ...rest] = readFileSync(file, 'utf8').split('\n');
    let run: unknown;
    try {
      run = (JSON.parse(header) as { run?: unknown }).run;
    } catch {
      run = undefined;
    }
    if (run !== this.run) return [];
    const records: TraceRecord[] = [];
    for (const line of rest) {
      if (!line) continue;
      try {
        records.push(JSON.parse(line) as TraceRecord);
      } catch {
        break; // a torn last line: the process died mid-write, before the token left
      }
    }
    return records;
  }
}
