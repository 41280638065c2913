import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { VectorClock } from '../clock.ts';
import type { TraceRecord } from '../record.ts';

/**
 * trace.jsonl read a line at a time, so a slice of a 50 MB run never holds the file (or
 * its parsed records) in memory; only what each pass keeps.
 */

/** Each line of `file` with its 1-based number, `\r\n` tolerated. Rejects when the file cannot be read. */
export async function* readLines(file: string): AsyncGenerator<{ line: number; text: string }> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of rl) yield { line: ++line, text };
  } finally {
    // A reader that stops early (break) must not leave the file open.
    rl.close();
    input.destroy();
  }
}

/**
 * One trace.jsonl line as a record. Checks only what slicing relies on (host, tag, trace
 * id, a body object, a clock of non-negative integers with the host's own counter), so it
 * is cheaper than parseJsonl's; throws Error saying what is wrong.
 */
export function parseRecord(text: string): TraceRecord {
  const v = JSON.parse(text) as Record<string, unknown> | null;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('record is not a JSON object');
  const { host, tag, traceId, body, clock } = v;
  if (typeof host !== 'string' || !/^\S+$/.test(host)) throw new Error('"host" must be a non-empty string without whitespace');
  if (typeof tag !== 'string' || !/^\S+$/.test(tag)) throw new Error('"tag" must be a non-empty string without whitespace');
  if (typeof traceId !== 'string') throw new Error('"traceId" must be a string');
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Error('"body" must be a JSON object');
  if (clock === null || typeof clock !== 'object' || Array.isArray(clock)) throw new Error('"clock" must be a JSON object');
  const c = clock as VectorClock;
  for (const h in c) if (!(Number.isInteger(c[h]) && c[h] >= 0)) throw new Error(`clock counter for ${h} is not a non-negative integer`);
  if (!(c[host] > 0)) throw new Error(`the clock has no counter for its own host ${host}`);
  return { host, tag, traceId, body: body as Record<string, unknown>, clock: c };
}
