import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Where a run keeps its client history (docs/TRACING.md "The files of a run"). While the
 * tracing server writes the run, each entry is appended to HISTORY_LOG as it arrives (one
 * JSON object per line, in arrival order): an append costs what the entry costs, however
 * long the run, and a tracing server killed outright leaves every entry it had flushed.
 * When the run closes, the entries are written sorted by call time to HISTORY_FILE, and
 * HISTORY_LOG is removed.
 */
export const HISTORY_FILE = 'history.json';
/** The run's history while it is written (or after its writer was killed): JSON lines. */
export const HISTORY_LOG = 'history.jsonl';

/**
 * The run's history entries, sorted by `call`: from HISTORY_FILE when the run was closed,
 * else from HISTORY_LOG (a final line without its newline, torn by a writer killed while
 * appending it, is left out). Null when neither file exists. `file` names the file read.
 * Throws an Error whose message starts with the file's name (and line) when it is not
 * JSON, not an array, or a line is not an object; the entries' fields are the caller's
 * to check.
 */
export function readRunHistory(dir: string): { file: string; entries: unknown[] } | null {
  // history.json first: a writer closing meanwhile writes it before removing the log.
  for (const name of [HISTORY_FILE, HISTORY_LOG, HISTORY_FILE]) {
    const text = readIfThere(path.join(dir, name));
    if (text === null) continue;
    if (name === HISTORY_FILE) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`);
      }
      if (!Array.isArray(value)) throw new Error(`${name}: not a JSON array`);
      return { file: name, entries: value };
    }
    return { file: name, entries: parseHistoryLog(text) };
  }
  return null;
}

/** HISTORY_LOG's text as entries sorted by call (stable: arrival order among equal calls). */
export function parseHistoryLog(text: string): unknown[] {
  const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n');
  const entries: unknown[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${HISTORY_LOG} line ${i + 1}: ${(err as Error).message}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${HISTORY_LOG} line ${i + 1}: not a JSON object`);
    entries.push(value);
  });
  return sortByCall(entries);
}

/** Entries sorted by their numeric `call` (history.json's order); stable. */
export function sortByCall<T>(entries: T[]): T[] {
  const call = (e: T) => (e as { call?: unknown }).call;
  return entries.sort((a, b) => (call(a) as number) - (call(b) as number));
}

function readIfThere(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
