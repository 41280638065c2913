import type { VectorClock } from './clock.ts';

/** One recorded action: the unit of trace.jsonl and of a ShiViz event. */
export interface TraceRecord {
  host: string;
  /** Groups the actions of one client operation; empty for actions that belong to none. */
  traceId: string;
  tag: string;
  body: Record<string, unknown>;
  clock: VectorClock;
}

/** The clock of a send action, carried on the wire so the receiver can merge it. */
export type Token = VectorClock;

/** Where a tracer's records go: memory in tests, the tracing server in processes. */
export interface TraceSink {
  /** `clock`: the record's clock as serializeClock writes it, which the tracer keeps at hand. */
  write(record: TraceRecord, clock?: string): void;
  /**
   * The same as write, given the record's parts: the clock as its canonical JSON text
   * (serializeClock's) and the host's own counter in it. A sink that has this is handed no
   * TraceRecord, so no copy of the clock is made for a record that is not a send (the
   * tracing server's sink: tracing/collector-sink.ts).
   */
  writeParts?(host: string, traceId: string, tag: string, body: Record<string, unknown>, clock: string, counter: number): void;
  /** True when records go nowhere (tracing off): the tracer makes none, and only ticks. */
  readonly discards?: boolean;
  /**
   * False when the records may never reach the log though tokens naming them would leave
   * (tracing off; a server that could not open its spool): the tracer then hands out no
   * tokens, so no other host's clock names them. Absent: true.
   */
  readonly sendsTokens?: boolean;
}

export class MemorySink implements TraceSink {
  readonly records: TraceRecord[] = [];
  write(record: TraceRecord): void {
    this.records.push(record);
  }
}

/** Tracing off: the clock still ticks so tokens stay valid, records go nowhere. */
export class NullSink implements TraceSink {
  readonly sendsTokens = false;
  readonly discards = true;
  write(): void {}
}
