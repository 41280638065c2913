import { access, readFile, rename, truncate } from 'node:fs/promises';
import { CorruptDatafileError } from './corruptDatafileError.ts';
import type { StorageEventListener } from './events.ts';

export type Doc = { _id: string } & Record<string, unknown>;

/** A document that is live in the datafile, and the line it was last written on. */
export interface LiveDoc {
  doc: Doc;
  line: number;
}

const NEWLINE = 0x0a;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a NeDB datafile the way NeDB will load it, but strictly, before NeDB sees it.
 * NeDB skips unparsable lines below its corruptAlertThreshold, ignores parsable lines
 * without an _id, never names a line, and rewrites the file once loaded; so we check
 * every line here, while the line numbers still match the file on disk.
 *
 * Only a torn last line is cut off. NeDB ends every append with '\n' and we fsync only
 * after the append returns, so bytes after the last '\n' belong to a write that was
 * never acknowledged. Anything else that does not parse stops the open.
 */
export async function readDatafile(file: string, emit: StorageEventListener): Promise<Map<string, LiveDoc>> {
  await finishInterruptedCompaction(file);
  const bytes = await readIfExists(file);
  const end = bytes.lastIndexOf(NEWLINE) + 1;
  const lines = splitLines(bytes.subarray(0, end));
  if (end < bytes.length) {
    await truncate(file, end);
    emit({ type: 'repair', file, line: lines.length + 1, bytes: bytes.length - end });
  }
  const live = new Map<string, LiveDoc>();
  lines.forEach((raw, i) => {
    if (raw.length === 0) return; // NeDB skips blank lines too
    const doc = parseLine(raw, file, i + 1);
    if (doc.$$deleted === true) live.delete(doc._id);
    else live.set(doc._id, { doc, line: i + 1 });
  });
  return live;
}

/**
 * NeDB compacts by writing `file~` and renaming it over `file`; if only `file~` exists,
 * NeDB's load would rename it into place, so do that first and check what it will load.
 */
async function finishInterruptedCompaction(file: string): Promise<void> {
  if (!(await exists(file)) && (await exists(`${file}~`))) await rename(`${file}~`, file);
}

async function readIfExists(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Lines of complete ('\n'-terminated) content, as bytes: decoding per line lets a bad byte be blamed on its line. */
function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  for (let start = 0; start < bytes.length; ) {
    const end = bytes.indexOf(NEWLINE, start);
    lines.push(bytes.subarray(start, end));
    start = end + 1;
  }
  return lines;
}

function parseLine(raw: Buffer, file: string, line: number): Doc {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(raw));
  } catch (err) {
    throw new CorruptDatafileError(file, line, `unreadable line (${(err as Error).message}): ${preview(raw)}`);
  }
  if (!isDoc(value)) throw new CorruptDatafileError(file, line, `not a NeDB document with an _id: ${preview(raw)}`);
  return value;
}

function isDoc(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as Doc)._id === 'string' && (value as Doc)._id !== '';
}

function preview(raw: Buffer): string {
  const text = raw.toString('utf8');
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}
