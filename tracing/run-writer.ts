import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TraceRecord } from './record.ts';
import { formatJsonl, formatShiVizEvent, SHIVIZ_REGEX } from './shiviz.ts';

/**
 * The files of one traced run: shiviz.log and trace.jsonl grow as records arrive (ShiViz
 * orders events by clock, not by line), history.json is rewritten on every flush.
 */
export class RunWriter {
  readonly shivizPath: string;
  readonly jsonlPath: string;
  readonly historyPath: string;
  private pendingShiviz: string[] = [];
  private pendingJsonl: string[] = [];
  private readonly history: Record<string, unknown>[] = [];
  private historyDirty = true;
  events = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.shivizPath = path.join(dir, 'shiviz.log');
    this.jsonlPath = path.join(dir, 'trace.jsonl');
    this.historyPath = path.join(dir, 'history.json');
    writeFileSync(this.shivizPath, `${SHIVIZ_REGEX}\n\n`);
    writeFileSync(this.jsonlPath, '');
    this.flush();
  }

  add(record: TraceRecord): void {
    this.pendingShiviz.push(formatShiVizEvent(record));
    this.pendingJsonl.push(formatJsonl([record]));
    this.events++;
  }

  addHistory(entry: Record<string, unknown>): void {
    this.history.push(entry);
    this.historyDirty = true;
  }

  /** Appends what arrived since the last flush; cheap enough to call often. */
  flush(): void {
    if (this.pendingShiviz.length > 0) {
      appendFileSync(this.shivizPath, this.pendingShiviz.map(endLine).join(''));
      appendFileSync(this.jsonlPath, this.pendingJsonl.map(endLine).join(''));
      this.pendingShiviz = [];
      this.pendingJsonl = [];
    }
    if (this.historyDirty) {
      const sorted = [...this.history].sort((a, b) => (a.call as number) - (b.call as number));
      writeFileSync(this.historyPath, JSON.stringify(sorted, null, 1) + '\n');
      this.historyDirty = false;
    }
  }
}

function endLine(s: string): string {
  return s.endsWith('\n') ? s : `${s}\n`;
}
