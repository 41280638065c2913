import { access, readFile } from 'node:fs/promises';
import { CorruptDatafileError } from './corrupt-datafile-error.ts';

export type Doc = { _id: string } & Record<string, unknown>;

/** A document that is live in the datafile, and the line it was last written on. */
export interface LiveDoc {
  doc: Doc;
  line: number;
}

/** What a datafile holds, read without changing anything on disk. */
export interface DatafileContent {
  /** The file read: the datafile, or the `file~` an interrupted compaction left in its place. */
  source: string;
  live: Map<string, LiveDoc>;
  /** Bytes after the last '\n', starting at byte `at`: an append torn by a crash, for repairDatafile to cut off. */
  torn: { line: number; at: number; bytes: number } | null;
}

const NEWLINE = 0x0a;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a NeDB datafile the way NeDB will load it, but strictly, and without changing it.
 * NeDB skips unparsable lines below its corruptAlertThreshold, ignores parsable lines
 * without an _id, never names a line, and rewrites the file as it loads it; so every line
 * is checked here, and the documents by the caller, before NeDB sees the file. A refused
 * file then stays as found, and the next refusal names the same line.
 *
 * Later lines for an _id replace earlier ones and `$$deleted` lines delete, as in NeDB.
 * Anything but a torn last line that does not parse stops the open.
 */
export async function readDatafile(file: string): Promise<DatafileContent> {
  const source = await loadedByNedb(file);
  const bytes = await readIfExists(source);
  const end = bytes.lastIndexOf(NEWLINE) + 1;
  const lines = splitLines(bytes.subarray(0, end));
  const torn = end < bytes.length ? { line: lines.length + 1, at: end, bytes: bytes.length - end } : null;
  const live = new Map<string, LiveDoc>();
  lines.forEach((raw, i) => {
    if (raw.length === 0) return; // NeDB skips blank lines too
    const doc = parseLine(raw, source, i + 1);
    if (doc.$$deleted === true) live.delete(doc._id);
    else live.set(doc._id, { doc, line: i + 1 });
  });
  return { source, live, torn };
}

/** NeDB compacts by writing `file~` and renaming it over `file`; if only `file~` exists, NeDB's load renames it into place. */
async function loadedByNedb(file: string): Promise<string> {
  return !(await exists(file)) && (await exists(`${file}~`)) ? `${file}~` : file;
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
