/**
 * Which events of a run a slice keeps. Kinds of filter combine with AND (an event must
 * pass every kind given), the values within one kind with OR (any listed trace id, host or
 * tag). Records carry no wall-clock time, so a range is over positions in trace.jsonl: an
 * event's line number there (the tracing server appends records as they arrive, so
 * positions follow real time roughly), or a `host:counter` event, which stands for its
 * own line. `raftkv check` prints offenders as `host:counter line N`, so either form can be
 * pasted from its output. Both ends are inclusive.
 */

export interface Selection {
  /** Keep events with any of these trace ids (`<clientId>:<opId>`). */
  traceIds?: ReadonlySet<string>;
  hosts?: ReadonlySet<string>;
  tags?: ReadonlySet<string>;
  /** First event of the range (inclusive); the start of the trace when absent. */
  from?: Bound;
  /** Last event of the range (inclusive); the end of the trace when absent. */
  to?: Bound;
  /** At most this many events: the first ones selected, in trace.jsonl order. */
  maxEvents?: number;
}

/** A line number of trace.jsonl (1-based), or the event `host:counter` (its own counter). */
export type Bound = { line: number } | { host: string; counter: number };

/**
 * Reads `--from`/`--to`: a positive integer (a trace.jsonl line) or `host:counter`.
 * Throws Error with a message naming `flag` when it is neither.
 */
export function parseBound(text: string, flag: string): Bound {
  if (/^\d+$/.test(text) && Number(text) >= 1) return { line: Number(text) };
  const m = /^(\S+):(\d+)$/.exec(text);
  if (m && Number(m[2]) >= 1) return { host: m[1], counter: Number(m[2]) };
  throw new Error(`${flag} takes a trace.jsonl line number (1, 2, ...) or an event as host:counter, e.g. server0:120 (got "${text}")`);
}

export function formatBound(b: Bound): string {
  return 'line' in b ? `line ${b.line}` : `${b.host}:${b.counter}`;
}

/** What the selector needs of a record. */
export interface Candidate {
  line: number;
  host: string;
  tag: string;
  traceId: string;
  /** The record's own counter. */
  counter: number;
}

/**
 * Decides, record by record in file order, whether each is in the selection; a streaming
 * state machine, so a `host:counter` bound works in one pass. Also notes what a bad
 * selection must be explained with: whether each bound was found.
 */
export class Selector {
  private started: boolean;
  private ended = false;
  fromFound: boolean;
  toFound: boolean;

  constructor(private readonly s: Selection) {
    this.started = s.from === undefined || 'line' in s.from;
    this.fromFound = s.from === undefined || 'line' in s.from;
    this.toFound = s.to === undefined || 'line' in s.to;
  }

  /** True when `c` is selected (before --max-events is applied). */
  take(c: Candidate): boolean {
    const { from, to } = this.s;
    const isFrom = from !== undefined && !('line' in from) && from.host === c.host && from.counter === c.counter;
    const isTo = to !== undefined && !('line' in to) && to.host === c.host && to.counter === c.counter;
    if (isFrom) {
      this.fromFound = true;
      // A `to` event seen before `from` already closed the range: the range is empty.
      if (!this.ended) this.started = true;
    }
    if (isTo) this.toFound = true;
    let inRange = this.started && !this.ended;
    if (from && 'line' in from && c.line < from.line) inRange = false;
    if (to && 'line' in to && c.line > to.line) inRange = false;
    if (isTo) this.ended = true;
    if (!inRange) return false;
    if (this.s.traceIds && !this.s.traceIds.has(c.traceId)) return false;
    if (this.s.hosts && !this.s.hosts.has(c.host)) return false;
    if (this.s.tags && !this.s.tags.has(c.tag)) return false;
    return true;
  }
}
