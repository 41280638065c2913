import { closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import type { TraceRecord } from './record.ts';
import { oneLine } from './shiviz.ts';

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

  /**
   * Records of this run that survived the last life, oldest first; the rest is discarded.
   * `unsent`: the records the tracing server lacks, which are carried over however many.
   */
  load(unsent: (r: TraceRecord) => boolean = () => false): TraceRecord[] {
    const records = readSpool(this.file, this.run);
    // The latest carry over into a fresh segment, so a second restart before any new
    // record still finds them, and so do all the tracing server lacks: this life resends
    // them on a stream that may die with it, and the server then reads them from here.
    // Written aside and renamed in, so a crash here loses nothing.
    const carried = records.filter((r, i) => i >= records.length - this.keep || unsent(r));
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, oneLine([this.header(), ...carried.map((r) => JSON.stringify(r))].join('\n') + '\n'));
    renameSync(tmp, this.file);
    rmSync(`${this.file}.1`, { force: true });
    this.lines = carried.length;
    return records;
  }

  /**
   * Appends `count` records already serialized as trace lines (tracing/trace-line.ts),
   * each ending in a newline, in one write: `data` is the same buffer the stream carries.
   * `mayRotate` false (the tracing server lags behind this process's stream): the segment
   * keeps growing rather than rotating away records the server may not have yet, up to
   * 10 x `keep` lines (beyond that the server has been away too long to wait for).
   */
  append(data: Buffer, count: number, mayRotate = true): void {
    if (count === 0) return;
    if (this.lines >= this.keep && (mayRotate || this.lines >= 10 * this.keep)) this.rotate();
    this.fd ??= openSync(this.file, 'a');
    // Synchronous on purpose: the token that follows must not leave before these lines
    // are in the page cache, where a kill -9 of this process cannot take them. A write
    // may take fewer bytes than asked: it is repeated until all are in.
    for (let off = 0; off < data.length; ) off += writeSync(this.fd, data, off, data.length - off);
    this.lines += count;
  }

  /** The lines of this run's records it holds now, oldest first (readSpoolLines). */
  records(): string[] {
    return readSpoolLines(this.file, this.run);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private rotate(): void {
    this.close();
    // The older segment goes first: a rename over an existing file makes ext4 (auto_da_alloc)
    // write the renamed file's data out at once, which cost a server a few ms per rotation
    // on the path of every put. Between the two steps the spool still holds `keep` records.
    rmSync(`${this.file}.1`, { force: true });
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
}

/**
 * The records of `run` in the spool at `file` (both segments), oldest first: what a
 * restarted process resends. A segment of another run counts as empty; a torn line (the
 * process died mid-write, before any token named it) ends its segment.
 */
export function readSpool(file: string, run: string): TraceRecord[] {
  const records: TraceRecord[] = [];
  for (const line of readSpoolLines(file, run)) {
    try {
      records.push(JSON.parse(line) as TraceRecord);
    } catch {
      break; // a torn line
    }
  }
  return records;
}

/**
 * The lines of `run`'s records in the spool at `file`, unparsed, oldest first: what the
 * tracing server reads once a process died (tracing/collector.ts), since a spool is
 * written before the tokens naming its records leave.
 */
export function readSpoolLines(file: string, run: string): string[] {
  // The older segment first; it can only be whole.
  return [...readSegment(`${file}.1`, run), ...readSegment(file, run)];
}

function readSegment(file: string, run: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return []; // none (yet), or removed with its data dir
  }
  const newline = text.indexOf('\n');
  let named: unknown;
  try {
    named = (JSON.parse(newline < 0 ? text : text.slice(0, newline)) as { run?: unknown }).run;
  } catch {
    named = undefined;
  }
  if (named !== run || newline < 0) return [];
  // The last piece has no newline after it: a whole line only if the write is done, so
  // a reader racing a writer takes only lines that end.
  return text.slice(newline + 1, text.lastIndexOf('\n')).split('\n').filter((l) => l.length > 0);
}
