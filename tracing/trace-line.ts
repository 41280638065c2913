import { isCanonicalClock, parseClock, serializeClock } from './clock.ts';

/**
 * One recorded action as one JSON line: the format of a process's spool, of what it
 * streams to the tracing server, and of the run's trace.jsonl, so a record is serialized
 * once, by the process that recorded it, and travels as bytes from there:
 *
 *   {"host":H,"traceId":T,"tag":G,"body":{...},"clock":{...}}
 *
 * with the clock canonical (serializeClock: hosts sorted, no zero counters). The tracing
 * server reads the parts it needs (host, the host's own counter, tag, body text) by
 * position instead of parsing the JSON (parseLine), which is most of what a record cost
 * it.
 */
export interface LineParts {
  host: string;
  traceId: string;
  tag: string;
  /** The body as JSON text (an object). */
  body: string;
  /** The clock as canonical JSON text. */
  clock: string;
  /** The host's own counter in the clock (>= 1): its position in the host's order. */
  counter: number;
  /** The whole line, without a newline. */
  line: string;
}

/** The line of a record whose body and clock are already JSON text (the clock canonical). */
export function formatLine(host: string, traceId: string, tag: string, body: string, clock: string): string {
  return `{"host":${quote(host)},"traceId":${quote(traceId)},"tag":${quote(tag)},"body":${body},"clock":${clock}}`;
}

/** A JSON string literal; plain names (the usual host, tag and trace id) skip JSON.stringify. */
function quote(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

const PLAIN = /^[\w.:@/+-]*$/;
/** What a host or tag may not hold: whitespace (a ShiViz host line is `host {clock}`), or escapes. */
const NOT_PLAIN = /[\s\\]/;
const HEAD = '{"host":"';
const CLOCK = ',"clock":{';

/**
 * The parts of a trace line, or null when it is not one (not JSON; no host, tag, object
 * body or clock; a clock counter that is not a positive integer; the host missing from
 * its own clock). Lines in the shape formatLine writes are read by position (the body is
 * taken as its writer's JSON.stringify wrote it); any other valid record line (other key
 * order, escapes in names) is parsed and returned in that shape.
 */
export function parseLine(line: string): LineParts | null {
  if (line.startsWith(HEAD) && line.endsWith('}}')) {
    const h = line.indexOf('"', HEAD.length);
    const t = h < 0 ? -1 : line.indexOf('"', h + 13);
    const g = t < 0 ? -1 : line.indexOf('"', t + 9);
    const c = line.lastIndexOf(CLOCK);
    if (
      g > 0 && c > g &&
      line.startsWith('","traceId":"', h) && line.startsWith('","tag":"', t) && line.startsWith('","body":{', g) &&
      line.charCodeAt(c - 1) === 125 /* } */
    ) {
      const host = line.slice(HEAD.length, h);
      const traceId = line.slice(h + 13, t);
      const tag = line.slice(t + 9, g);
      if (host && tag && !NOT_PLAIN.test(host) && !NOT_PLAIN.test(tag) && !traceId.includes('\\')) {
        const clock = line.slice(c + 9, -1);
        const counter = ownCounter(clock, host);
        if (counter > 0) return { host, traceId, tag, body: line.slice(g + 9, c), clock, counter, line };
      }
    }
  }
  return parseSlowly(line);
}

/** `host`'s counter in a canonical clock's JSON text, read in place; 0 when absent or malformed. */
function ownCounter(clock: string, host: string): number {
  const key = `"${host}":`;
  let at = clock.indexOf(key);
  // A key matches only at its start: after "{" or ",", not inside a longer host name.
  while (at > 0 && clock.charCodeAt(at - 1) !== 123 && clock.charCodeAt(at - 1) !== 44) at = clock.indexOf(key, at + 1);
  if (at < 1) return 0;
  let n = 0;
  let i = at + key.length;
  for (; i < clock.length; i++) {
    const d = clock.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    n = n * 10 + d;
  }
  const end = clock.charCodeAt(i);
  return i > at + key.length && (end === 44 || end === 125) && Number.isSafeInteger(n) ? n : 0;
}

function parseSlowly(line: string): LineParts | null {
  try {
    const r = JSON.parse(line) as Record<string, unknown>;
    const { host, traceId = '', tag, body, clock } = r;
    if (typeof host !== 'string' || !host || typeof traceId !== 'string' || typeof tag !== 'string' || !tag) return null;
    if (/\s/.test(host) || /\s/.test(tag)) return null;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
    if (clock === null || typeof clock !== 'object' || Array.isArray(clock)) return null;
    const parsed = parseClock(JSON.stringify(clock));
    const counter = parsed[host] ?? 0;
    if (!(counter > 0)) return null;
    const clockText = isCanonicalClock(parsed) ? JSON.stringify(parsed) : serializeClock(parsed);
    const bodyText = JSON.stringify(body);
    return { host, traceId, tag, body: bodyText, clock: clockText, counter, line: formatLine(host, traceId, tag, bodyText, clockText) };
  } catch {
    return null;
  }
}
