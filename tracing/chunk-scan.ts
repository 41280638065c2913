/**
 * The tracing server's fast path over a chunk of trace lines (tracing/trace-line.ts) as it
 * arrived, in bytes: where each line's parts lie, found without decoding the chunk, and
 * the chunk's ShiViz events assembled by copying those byte ranges. Decoding a chunk to
 * text, slicing it into strings, and joining, escaping and encoding them again for each
 * file was most of what the tracing server spent per record, more so the longer the
 * clocks (an entry per host a run has seen).
 *
 * Only lines in the exact shape formatLine writes are taken, and only a chunk whose lines
 * all are: anything else (another key order, escapes in names, U+2028/U+2029, a body with
 * a `traceId` key of its own next to the record's) makes scanChunk return null, and the
 * caller reads that chunk as text (parseLine), which handles every case.
 */

/** One line of a chunk, by byte offsets into it (ends exclusive). */
export interface LineSpan {
  /** The host, decoded (a plain name: no whitespace, quote or backslash). */
  host: string;
  /** The host's own counter in the clock (>= 1). */
  counter: number;
  /** The line, without its newline. */
  start: number;
  end: number;
  traceIdStart: number;
  traceIdEnd: number;
  tagStart: number;
  tagEnd: number;
  /** The body's JSON object. */
  bodyStart: number;
  bodyEnd: number;
  /** The clock's JSON object. */
  clockStart: number;
  clockEnd: number;
}

const HEAD = Buffer.from('{"host":"');
const TRACE_ID = Buffer.from('","traceId":"');
const TAG = Buffer.from('","tag":"');
const BODY = Buffer.from('","body":{');
const CLOCK = Buffer.from(',"clock":{');
const TRACE_ID_KEY = Buffer.from('"traceId":');
/** U+2028 and U+2029 in UTF-8 are E2 80 A8 and E2 80 A9. */
const E2_80 = Buffer.from([0xe2, 0x80]);
const NEWLINE = 10;
const QUOTE = 34;
const BACKSLASH = 92;
const OPEN = 123;
const CLOSE = 125;
const COMMA = 44;
/** What a host or tag may not hold: whitespace (a ShiViz host line is `host {clock}`), quotes or escapes. */
const NOT_PLAIN = /[\s"\\]/;

/**
 * The lines of `chunk` (each ending in a newline) by offsets, or null when any line is
 * not in formatLine's shape (or the chunk holds a character ShiViz would end a line at):
 * then the caller reads the chunk as text. O(bytes), with native searches.
 */
export function scanChunk(chunk: Buffer): LineSpan[] | null {
  if (chunk.length === 0 || chunk[chunk.length - 1] !== NEWLINE) return null;
  if (hasLineSeparator(chunk)) return null;
  const spans: LineSpan[] = [];
  for (let start = 0; start < chunk.length; ) {
    const end = chunk.indexOf(NEWLINE, start);
    const span = scanLine(chunk, start, end);
    if (span === null) return null;
    spans.push(span);
    start = end + 1;
  }
  return spans;
}

function scanLine(b: Buffer, start: number, end: number): LineSpan | null {
  if (!startsWith(b, HEAD, start) || b[end - 1] !== CLOSE || b[end - 2] !== CLOSE) return null;
  const h = b.indexOf(QUOTE, start + HEAD.length);
  if (h < 0 || h >= end || !startsWith(b, TRACE_ID, h)) return null;
  const t = b.indexOf(QUOTE, h + TRACE_ID.length);
  if (t < 0 || t >= end || !startsWith(b, TAG, t)) return null;
  const g = b.indexOf(QUOTE, t + TAG.length);
  if (g < 0 || g >= end || !startsWith(b, BODY, g)) return null;
  // The clock is the line's last part, so its key is the last occurrence in the line.
  const c = b.lastIndexOf(CLOCK, end - 1);
  if (c <= g || b[c - 1] !== CLOSE) return null;
  const host = b.toString('utf8', start + HEAD.length, h);
  const tagStart = t + TAG.length;
  if (!host || NOT_PLAIN.test(host) || g === tagStart || NOT_PLAIN.test(b.toString('utf8', tagStart, g))) return null;
  const traceIdStart = h + TRACE_ID.length;
  // Searches are bounded by the part they look in: an unbounded one would run on through the rest of the chunk.
  if (b.subarray(traceIdStart, t).indexOf(BACKSLASH) >= 0) return null;
  const clockStart = c + CLOCK.length - 1;
  const clockEnd = end - 1;
  const counter = ownCounter(b, clockStart, clockEnd, host);
  if (counter < 1) return null;
  const bodyStart = g + BODY.length - 1;
  // The ShiViz event adds the record's trace id to the body: one of the body's own is the text path's case.
  if (t > traceIdStart) {
    if (b.subarray(bodyStart, c).indexOf(TRACE_ID_KEY) >= 0) return null;
  }
  return { host, counter, start, end, traceIdStart, traceIdEnd: t, tagStart, tagEnd: g, bodyStart, bodyEnd: c, clockStart, clockEnd };
}

/** `host`'s counter in the clock at b[from, to), read in place; 0 when absent or malformed. */
function ownCounter(b: Buffer, from: number, to: number, host: string): number {
  const key = clockKey(host);
  const clock = b.subarray(from, to);
  let at = clock.indexOf(key);
  // A key matches only at its start: after "{" or ",", not inside a longer host name.
  while (at > 0 && clock[at - 1] !== OPEN && clock[at - 1] !== COMMA) at = clock.indexOf(key, at + 1);
  if (at <= 0) return 0;
  at += from;
  let n = 0;
  let i = at + key.length;
  for (; i < to; i++) {
    const d = b[i] - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  return i > at + key.length && (b[i] === COMMA || b[i] === CLOSE) && Number.isSafeInteger(n) ? n : 0;
}

/** `"host":` in bytes, per host (a run has a few dozen; the map is reset should names run wild). */
const keys = new Map<string, Buffer>();
function clockKey(host: string): Buffer {
  let key = keys.get(host);
  if (key === undefined) {
    if (keys.size >= 10_000) keys.clear();
    key = Buffer.from(`"${host}":`);
    keys.set(host, key);
  }
  return key;
}

/** Whether the chunk holds U+2028 or U+2029 (one scan: other characters start E2 80 too, e.g. U+2014). */
function hasLineSeparator(b: Buffer): boolean {
  for (let at = b.indexOf(E2_80); at >= 0; at = b.indexOf(E2_80, at + 2)) {
    if (b[at + 2] === 0xa8 || b[at + 2] === 0xa9) return true;
  }
  return false;
}

function startsWith(b: Buffer, prefix: Buffer, at: number): boolean {
  return at + prefix.length <= b.length && b.compare(prefix, 0, prefix.length, at, at + prefix.length) === 0;
}

/**
 * The ShiViz events of `spans` (lines of `chunk`), each two lines ending in a newline, as
 * formatShiVizEvent writes them (`host {clock}`, then `Tag {body}` with the record's trace
 * id added to the body), copied from the chunk's bytes.
 */
export function shivizEvents(chunk: Buffer, spans: readonly LineSpan[]): Buffer {
  let size = 0;
  for (const s of spans) size += eventSize(s);
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const s of spans) {
    o += chunk.copy(out, o, s.start + HEAD.length, s.traceIdStart - TRACE_ID.length);
    out[o++] = 32; // ' '
    o += chunk.copy(out, o, s.clockStart, s.clockEnd);
    out[o++] = NEWLINE;
    o += chunk.copy(out, o, s.tagStart, s.tagEnd);
    out[o++] = 32;
    if (s.traceIdEnd === s.traceIdStart) o += chunk.copy(out, o, s.bodyStart, s.bodyEnd);
    else {
      o += chunk.copy(out, o, s.bodyStart, s.bodyEnd - 1); // without its closing brace
      if (s.bodyEnd - s.bodyStart > 2) out[o++] = COMMA;
      o += TRACE_ID_KEY.copy(out, o);
      out[o++] = QUOTE;
      o += chunk.copy(out, o, s.traceIdStart, s.traceIdEnd);
      out[o++] = QUOTE;
      out[o++] = CLOSE;
    }
    out[o++] = NEWLINE;
  }
  return out;
}

function eventSize(s: LineSpan): number {
  const host = s.traceIdStart - TRACE_ID.length - (s.start + HEAD.length);
  const base = host + 1 + (s.clockEnd - s.clockStart) + 1 + (s.tagEnd - s.tagStart) + 1 + (s.bodyEnd - s.bodyStart) + 1;
  if (s.traceIdEnd === s.traceIdStart) return base;
  // `,"traceId":"<id>"` before the closing brace (no comma into an empty body).
  return base + (s.bodyEnd - s.bodyStart > 2 ? 1 : 0) + TRACE_ID_KEY.length + 2 + (s.traceIdEnd - s.traceIdStart);
}
