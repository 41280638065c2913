import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TraceRecord } from './record.ts';
import { formatJsonlLine, formatShiVizEvent, oneLine, SHIVIZ_REGEX, shivizEventOf, type SerializedParts } from './shiviz.ts';
import type { LineParts } from './trace-line.ts';

/**
 * The files of one traced run: shiviz.log and trace.jsonl grow as records arrive (ShiViz
 * orders events by clock, not by line). history.json is sorted by call time, so it is
 * rewritten whole: at most every `historyEveryMs` on routine flushes (a long run's
 * history is large), and always on a forced one (Flush RPC, stop), through a temporary
 * file renamed over it, so a reader never sees half of it.
 *
 * While the run is open, `writing.json` (WRITING_MARKER: `{pid, since}`) in the directory
 * says so: `raftkv check` then grades a consistent cut of a run still growing. close()
 * removes it; a writer killed outright leaves it naming a pid that is gone.
 */
export const WRITING_MARKER = 'writing.json';

export class RunWriter {
  readonly shivizPath: string;
  readonly jsonlPath: string;
  readonly historyPath: string;
  private pendingShiviz: string[] = [];
  private pendingJsonl: string[] = [];
  private readonly history: Record<string, unknown>[] = [];
  private historyDirty = true;
  private historyWrittenAt = -Infinity;
  /** How long the last rewrite of history.json took, ms. */
  private historyWriteMs = 0;
  events = 0;

  constructor(
    readonly dir: string,
    /** The least time between routine rewrites of history.json, ms (0: every flush). */
    private readonly historyEveryMs = 2000,
  ) {
    mkdirSync(dir, { recursive: true });
    this.shivizPath = path.join(dir, 'shiviz.log');
    this.jsonlPath = path.join(dir, 'trace.jsonl');
    this.historyPath = path.join(dir, 'history.json');
    writeFileSync(this.shivizPath, `${SHIVIZ_REGEX}\n\n`);
    writeFileSync(this.jsonlPath, '');
    writeFileSync(path.join(dir, WRITING_MARKER), JSON.stringify({ pid: process.pid, since: new Date().toISOString() }) + '\n');
    this.flush(true);
  }

  /** Writes what is pending and marks the run closed (removes WRITING_MARKER). */
  close(): void {
    this.flush(true);
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

  addHistory(entry: Record<string, unknown>): void {
    this.history.push(entry);
    this.historyDirty = true;
  }

  /** Appends what arrived since the last flush; cheap enough to call often. */
  flush(force = false): void {
    if (this.pendingShiviz.length > 0) {
      // One pass over each chunk, not one per line, keeps U+2028/U+2029 from ending lines.
      appendFileSync(this.shivizPath, oneLine(`${this.pendingShiviz.join('\n')}\n`));
      appendFileSync(this.jsonlPath, oneLine(`${this.pendingJsonl.join('\n')}\n`));
      this.pendingShiviz = [];
      this.pendingJsonl = [];
    }
    // A long run's history is large and rewritten whole: a routine rewrite waits at least
    // 50 times as long as the last one took, so it stays under 2% of the server's time
    // however long the run (a 100k-operation history takes a few hundred ms to write).
    const every = this.historyEveryMs === 0 ? 0 : Math.max(this.historyEveryMs, 50 * this.historyWriteMs);
    if (this.historyDirty && (force || performance.now() - this.historyWrittenAt >= every)) {
      const t0 = performance.now();
      const sorted = [...this.history].sort((a, b) => (a.call as number) - (b.call as number));
      writeFileSync(`${this.historyPath}.tmp`, JSON.stringify(sorted, null, 1) + '\n');
      renameSync(`${this.historyPath}.tmp`, this.historyPath);
      this.historyDirty = false;
      this.historyWrittenAt = performance.now();
      this.historyWriteMs = this.historyWrittenAt - t0;
    }
  }
}
