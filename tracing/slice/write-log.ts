import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { VectorClock } from '../clock.ts';
import { formatShiVizEvent, SHIVIZ_REGEX } from '../shiviz.ts';
import { parseRecord, readLines } from './read-trace.ts';

/** A kept event: where it is in trace.jsonl, and what it becomes. */
export interface KeptLine {
  /** 1-based line of trace.jsonl. */
  line: number;
  host: string;
  /** Its counter in the full run, to notice a file that changed between the passes. */
  counter: number;
  /** Its clock in the slice (recompute-clocks.ts). */
  clock: VectorClock;
}

/** Flush to disk every this many characters: the file is written in pieces, never held whole. */
const CHUNK_CHARS = 1 << 20;

/**
 * Writes the slice as a ShiViz log: the same regex line and blank line as shiviz.log
 * (shiviz.ts), then each kept event in trace.jsonl order with its new clock, formatted as
 * the tracing server formats it (trace id in the body). Reads trace.jsonl a second time
 * rather than keeping bodies from the first pass. Writes `out`.tmp and renames it, so
 * `out` is never half written. `kept` must be in ascending line order.
 * Throws Error when trace.jsonl changed since the first pass or a file cannot be written.
 */
export async function writeSliceLog(jsonlPath: string, kept: readonly KeptLine[], out: string): Promise<void> {
  const tmp = `${out}.tmp`;
  const fd = openSync(tmp, 'w');
  let ok = false;
  try {
    let pending = `${SHIVIZ_REGEX}\n\n`;
    let next = 0;
    for await (const { line, text } of readLines(jsonlPath)) {
      if (next >= kept.length) break;
      if (line !== kept[next].line) continue;
      const k = kept[next++];
      const r = parseRecord(text);
      if (r.host !== k.host || r.clock[r.host] !== k.counter) throw new Error(`trace.jsonl changed while it was being sliced (line ${line})`);
      pending += `${formatShiVizEvent({ ...r, clock: k.clock })}\n`;
      if (pending.length >= CHUNK_CHARS) {
        writeSync(fd, pending);
        pending = '';
      }
    }
    if (next < kept.length) throw new Error(`trace.jsonl got shorter while it was being sliced (line ${kept[next].line} is gone)`);
    writeSync(fd, pending);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(tmp, { force: true });
  }
  renameSync(tmp, out);
}
