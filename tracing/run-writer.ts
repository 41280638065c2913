import { appendFileSync, closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writevSync } from 'node:fs';
import path from 'node:path';
import type { TraceRecord } from './record.ts';
import { HISTORY_FILE, HISTORY_LOG, sortByCall } from './history-file.ts';
import { formatJsonlLine, formatShiVizEvent, oneLine, SHIVIZ_REGEX, shivizEventOf, type SerializedParts } from './shiviz.ts';
import type { LineParts } from './trace-line.ts';

/**
 * The files of one traced run: shiviz.log and trace.jsonl grow as records arrive (ShiViz
 * orders events by clock, not by line), and so does history.jsonl, one client operation
 * per line in arrival order (tracing/history-file.ts). close() writes history.json, the
 * same entries sorted by call time (through a temporary file renamed over it, so a reader
 * never sees half of it), and removes history.jsonl. No file is ever rewritten while the
 * run is open, so a flush costs what arrived since the last one, however long the run.
 *
 * While the run is open, `writing.json` (WRITING_MARKER: `{pid, since}`) in the directory
 * says so: `raftkv check` then grades a consistent cut of a run still growing. close()
 * removes it; a writer killed outright leaves it naming a pid that is gone (and leaves
 * history.jsonl, which the checker reads in place of history.json).
 */
export const WRITING_MARKER = 'writing.json';

export class RunWriter {
  readonly shivizPath: string;
  readonly jsonlPath: string;
  readonly historyPath: string;
  readonly historyLogPath: string;
  /** shiviz.log's pending events: text (two lines, made one event by flush), or bytes ending in a newline. */
  private pendingShiviz: (string | Buffer)[] = [];
  /** trace.jsonl's pending lines: text (made one line by flush), or chunks as received, which end in a newline. */
  private pendingJsonl: (string | Buffer)[] = [];
  private pendingHistory: string[] = [];
  /** Every history entry of the run, for history.json at close. */
  private readonly history: Record<string, unknown>[] = [];
  events = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.shivizPath = path.join(dir, 'shiviz.log');
    this.jsonlPath = path.join(dir, 'trace.jsonl');
    this.historyPath = path.join(dir, HISTORY_FILE);
    this.historyLogPath = path.join(dir, HISTORY_LOG);
    writeFileSync(this.shivizPath, `${SHIVIZ_REGEX}\n\n`);
    writeFileSync(this.jsonlPath, '');
    writeFileSync(this.historyLogPath, '');
    writeFileSync(path.join(dir, WRITING_MARKER), JSON.stringify({ pid: process.pid, since: new Date().toISOString() }) + '\n');
  }

  /**
   * Writes what is pending, then history.json (sorted by call) in place of history.jsonl,
   * and marks the run closed (removes WRITING_MARKER).
   */
  close(): void {
    this.flush();
    writeFileSync(`${this.historyPath}.tmp`, JSON.stringify(sortByCall([...this.history]), null, 1) + '\n');
    renameSync(`${this.historyPath}.tmp`, this.historyPath);
    rmSync(this.historyLogPath, { force: true });
    rmSync(path.join(this.dir, WRITING_MARKER), { force: true });
  }

  /** `sent`: the record's body and clock already serialized, if at hand (see formatShiVizEvent). */
  add(record: TraceRecord, sent?: SerializedParts): void {
    this.pendingShiviz.push(formatShiVizEvent(record, sent));
    this.pendingJsonl.push(formatJsonlLine(record, sent));
    this.events++;
  }

  /** A record as a trace line (tracing/trace-line.ts): its line goes to trace.jsonl as is. */
  addLine(parts: LineParts): void {
    this.pendingShiviz.push(shivizEventOf(parts));
    this.pendingJsonl.push(parts.line);
    this.events++;
  }

  /**
   * `count` records as bytes (tracing/chunk-scan.ts): `lines`, trace lines in formatLine's
   * shape as a process sent them, and `events`, their ShiViz events; both end in a newline
   * and hold no U+2028/U+2029. They go to the files as they are.
   */
  addChunk(lines: Buffer, events: Buffer, count: number): void {
    this.pendingShiviz.push(events);
    this.pendingJsonl.push(lines);
    this.events += count;
  }

  /**
   * A finished client operation (tracing/history.ts's shape). `line`: the entry as the
   * client serialized it (one line of JSON), appended to history.jsonl as is.
   */
  addHistory(entry: Record<string, unknown>, line = JSON.stringify(entry)): void {
    this.history.push(entry);
    // JSON may hold newlines between its tokens: such a line is written as JSON.stringify would.
    this.pendingHistory.push(line.includes('\n') ? JSON.stringify(entry) : line);
  }

  /** Appends what arrived since the last flush: records first, then history entries. Cheap enough to call often. */
  flush(): void {
    if (this.pendingShiviz.length > 0) {
      // One pass over each chunk, not one per line, keeps U+2028/U+2029 from ending lines.
      appendBuffers(this.shivizPath, fileBytes(this.pendingShiviz));
      appendBuffers(this.jsonlPath, fileBytes(this.pendingJsonl));
      this.pendingShiviz = [];
      this.pendingJsonl = [];
    }
    // After the records: a reader that finds an operation here finds its records too (load.ts's cut).
    if (this.pendingHistory.length > 0) {
      appendFileSync(this.historyLogPath, oneLine(`${this.pendingHistory.join('\n')}\n`));
      this.pendingHistory = [];
    }
  }
}

/** Pending lines or events as buffers to write in order: runs of text joined with newlines and escaped (oneLine), bytes as they are. */
function fileBytes(pending: readonly (string | Buffer)[]): Buffer[] {
  const out: Buffer[] = [];
  let texts: string[] = [];
  const take = () => {
    if (texts.length === 0) return;
    out.push(Buffer.from(oneLine(`${texts.join('\n')}\n`), 'utf8'));
    texts = [];
  };
  for (const l of pending) {
    if (typeof l === 'string') texts.push(l);
    else {
      take();
      out.push(l);
    }
  }
  take();
  return out;
}

/** Appends `buffers` to `file` in order with gathered writes (no copy into one buffer first). */
function appendBuffers(file: string, buffers: Buffer[]): void {
  const fd = openSync(file, 'a');
  try {
    // writevSync may write less than asked (a signal, a full disk): the rest is written after.
    let total = 0;
    for (const b of buffers) total += b.length;
    let done = writevSync(fd, buffers);
    while (done < total) {
      let skip = done;
      const rest: Buffer[] = [];
      for (const b of buffers) {
        if (skip >= b.length) skip -= b.length;
        else {
          rest.push(skip > 0 ? b.subarray(skip) : b);
          skip = 0;
        }
      }
      const n = writevSync(fd, rest);
      if (n <= 0) throw new Error(`${file}: a write took no bytes`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}
