import { parseClock, serializeClock, type VectorClock } from './clock.ts';
import type { TraceRecord } from './record.ts';
import type { LineParts } from './trace-line.ts';

/**
 * The two files the collector writes: the ShiViz log people look at and trace.jsonl,
 * which checkers read. Both parsers report bad lines instead of throwing, so one torn
 * line does not hide the rest of a run.
 */

/** ShiViz's parser regex; line 1 of every log, so the file can be pasted into ShiViz as is. */
export const SHIVIZ_REGEX = String.raw`(?<host>\S*) (?<clock>{.*})\n(?<event>.*)`;

export interface ShiVizEvent {
  host: string;
  clock: VectorClock;
  tag: string;
  body: Record<string, unknown>;
  /** 1-based line of the `host {clock}` line: the line ShiViz points at. */
  line: number;
}

export interface ParseError {
  line: number;
  message: string;
}

export type JsonlRecord = TraceRecord & { line: number };

export function formatShiViz(records: readonly TraceRecord[]): string {
  // The blank second line tells ShiViz the file holds a single execution.
  return [SHIVIZ_REGEX, '', ...records.map((r) => formatShiVizEvent(r))].join('\n') + '\n';
}

/**
 * A record's body and clock as already serialized, one line each: the body as
 * JSON.stringify writes it, the clock as serializeClock does. Passing them saves the
 * tracing server serializing every record it receives again.
 */
export interface SerializedParts {
  body?: string;
  clock?: string;
}

/** One event: the `host {clock}` line and the event line, without a final newline. */
export function formatShiVizEvent(r: TraceRecord, sent: SerializedParts = {}): string {
  const bodyJson = sent.body;
  requireToken('host', r.host);
  requireToken('tag', r.tag);
  // ShiViz can search event text, so the trace id in the body finds one operation's events.
  let text: string;
  if (bodyJson === undefined || 'traceId' in r.body) {
    text = JSON.stringify(r.traceId ? { ...r.body, traceId: r.traceId } : r.body);
  } else if (!r.traceId) {
    text = bodyJson;
  } else {
    text = `${bodyJson.slice(0, -1)}${bodyJson === '{}' ? '' : ','}"traceId":${JSON.stringify(r.traceId)}}`;
  }
  return `${r.host} ${oneLine(sent.clock ?? serializeClock(r.clock))}\n${r.tag} ${oneLine(text)}`;
}

/**
 * One event from a trace line's parts (tracing/trace-line.ts), as formatShiVizEvent
 * writes it, built from the text as sent: the tracing server's path, which parses no
 * JSON for a record. The caller makes it one line (oneLine) with the rest of its chunk.
 */
export function shivizEventOf(p: LineParts): string {
  if (p.traceId && p.body.includes('"traceId":')) {
    // The body has a traceId key of its own somewhere: the record's replaces it, as above.
    return formatShiVizEvent({ host: p.host, traceId: p.traceId, tag: p.tag, body: JSON.parse(p.body) as Record<string, unknown>, clock: {} }, p);
  }
  const text = p.traceId ? `${p.body.slice(0, -1)}${p.body === '{}' ? '' : ','}"traceId":${JSON.stringify(p.traceId)}}` : p.body;
  return `${p.host} ${p.clock}\n${p.tag} ${text}`;
}

export function formatJsonl(records: readonly TraceRecord[]): string {
  return records.map((r) => `${formatJsonlLine(r)}\n`).join('');
}

/** One trace.jsonl line, without its newline; `sent` as for formatShiVizEvent. */
export function formatJsonlLine(r: TraceRecord, sent: SerializedParts = {}): string {
  if (sent.body === undefined) return oneLine(JSON.stringify({ host: r.host, traceId: r.traceId, tag: r.tag, body: r.body, clock: r.clock }));
  return oneLine(`{"host":${JSON.stringify(r.host)},"traceId":${JSON.stringify(r.traceId)},"tag":${JSON.stringify(r.tag)},"body":${sent.body},"clock":${sent.clock ?? JSON.stringify(r.clock)}}`);
}

export function parseShiViz(text: string): { events: ShiVizEvent[]; errors: ParseError[] } {
  const lines = splitLines(text);
  const events: ShiVizEvent[] = [];
  const errors: ParseError[] = [];
  if (lines[0] !== SHIVIZ_REGEX) errors.push({ line: 1, message: `expected the parser regex ${SHIVIZ_REGEX}` });
  if ((lines[1] ?? '') !== '') errors.push({ line: 2, message: 'expected a blank line: a log holds one execution' });

  for (let i = 2; i < lines.length; i++) {
    const line = i + 1;
    // ShiViz skips text its regex does not match, so blank lines between events are harmless.
    if (lines[i].trim() === '') continue;
    const header = /^(\S+) (\{.*\})$/.exec(lines[i]);
    if (!header) {
      errors.push({ line, message: 'expected a "host {clock}" line' });
      continue;
    }
    // The event line belongs to this header even when broken, so it is never read as a header.
    const eventText = lines[++i];
    if (eventText === undefined) {
      errors.push({ line, message: 'the log ends before the event line' });
      break;
    }
    let clock: VectorClock;
    try {
      clock = parseClock(header[2]);
    } catch (err) {
      errors.push({ line, message: errorMessage(err) });
      continue;
    }
    const event = parseEventLine(eventText);
    if ('error' in event) {
      errors.push({ line: line + 1, message: event.error });
      // The host and clock are sound, so the event still counts for the clock rules; dropping
      // it would add a counter gap that is not in the log.
      events.push({ host: header[1], clock, tag: event.tag, body: {}, line });
    } else {
      events.push({ host: header[1], clock, tag: event.tag, body: event.body, line });
    }
  }
  return { events, errors };
}

export function parseJsonl(text: string): { records: JsonlRecord[]; errors: ParseError[] } {
  const records: JsonlRecord[] = [];
  const errors: ParseError[] = [];
  splitLines(text).forEach((lineText, i) => {
    if (lineText.trim() === '') return;
    try {
      records.push({ ...toRecord(JSON.parse(lineText)), line: i + 1 });
    } catch (err) {
      errors.push({ line: i + 1, message: errorMessage(err) });
    }
  });
  return { records, errors };
}

/** Host and tag end at the first space when a log is read back, so they cannot hold whitespace. */
function requireToken(kind: string, value: string): void {
  if (!/^\S+$/.test(value)) throw new Error(`trace ${kind} must be non-empty without whitespace: ${JSON.stringify(value)}`);
}

/**
 * JSON.stringify escapes \n and \r but leaves U+2028/U+2029 raw, and ShiViz's `.` stops at
 * them as at a newline, which would cut the event short.
 */
export function oneLine(json: string): string {
  // One scan of a whole chunk (the tracing server passes megabytes), not one per character.
  return json.replace(LINE_SEPARATORS, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

const LINE_SEPARATORS = /[\u2028\u2029]/g;

function splitLines(text: string): string[] {
  return text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

function parseEventLine(text: string): { tag: string; body: Record<string, unknown> } | { tag: string; error: string } {
  const match = /^(\S+) (.*)$/.exec(text);
  if (!match) return { tag: text.trim(), error: 'expected a "Tag {body}" event line' };
  try {
    const body: unknown = JSON.parse(match[2]);
    if (isObject(body)) return { tag: match[1], body };
  } catch (err) {
    return { tag: match[1], error: `event body: ${errorMessage(err)}` };
  }
  return { tag: match[1], error: 'event body is not a JSON object' };
}

function toRecord(value: unknown): TraceRecord {
  if (!isObject(value)) throw new Error('record is not a JSON object');
  const { host, traceId, tag, body, clock } = value;
  if (typeof host !== 'string' || host === '') throw new Error('"host" must be a non-empty string');
  if (typeof traceId !== 'string') throw new Error('"traceId" must be a string');
  if (typeof tag !== 'string' || tag === '') throw new Error('"tag" must be a non-empty string');
  if (!isObject(body)) throw new Error('"body" must be a JSON object');
  if (!isObject(clock)) throw new Error('"clock" must be a JSON object');
  // Round-trips through parseClock so both formats share one definition of a valid clock.
  return { host, traceId, tag, body, clock: parseClock(JSON.stringify(clock)) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
