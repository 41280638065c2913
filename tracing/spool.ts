import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { TraceRecord } from './record.ts';

/**
 * A process's own copy of what it recorded, written synchronously before any token can
 * leave the process. If the process is killed before its stream reaches the tracing
 * server, the restarted process sends the missing records from here, so no counter that
 * another host already saw in a token is ever missing from the log.
 */
export class Spool {
  private lines = 0;

  constructor(
    private readonly file: string,
    private readonly run: string,
    /** Rewrite the file down to the last `keep` records once it holds twice that many. */
    private readonly keep = 10_000,
  ) {}

  /** Records of this run that survived the last life; the rest is discarded. */
  load(): TraceRecord[] {
    if (!existsSync(this.file)) return this.reset([]);
    const [header, ...rest] = readFileSync(this.file, 'utf8').split('\n');
    let run: unknown;
    try {
      run = (JSON.parse(header) as { run?: unknown }).run;
    } catch {
      run = undefined;
    }
    if (run !== this.run) return this.reset([]);
    const records: TraceRecord[] = [];
    for (const line of rest) {
      if (!line) continue;
      try {
        records.push(JSON.parse(line) as TraceRecord);
      } catch {
        break; // a torn last line: the process died mid-write, before the token left
      }
    }
    return this.reset(records.slice(-this.keep));
  }

  append(record: TraceRecord): void {
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
    if (++this.lines >= 2 * this.keep) this.reset(this.tail());
  }

  private tail(): TraceRecord[] {
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .slice(-this.keep)
      .map((l) => JSON.parse(l) as TraceRecord);
  }

  private reset(records: TraceRecord[]): TraceRecord[] {
    writeFileSync(this.file, [JSON.stringify({ run: this.run }), ...records.map((r) => JSON.stringify(r))].join('\n') + '\n');
    this.lines = records.length;
    return records;
  }
}
