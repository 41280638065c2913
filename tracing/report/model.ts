/**
 * The JSON model a report page draws (tracing/report/draw.ts reads it in the browser):
 * everything the page shows, extracted from a run directory by build-model.ts. Shared as
 * types only, so the browser script imports nothing at run time.
 */

/** An event's id in the page: `host:counter`, the host's own clock entry (as `raftkv check` prints offenders). */
export type EventId = string;

/** One trace.jsonl record placed on its host's lane. */
export interface ReportEvent {
  id: EventId;
  host: string;
  tag: string;
  traceId: string;
  /** Logical time: the longest chain of host order and messages that leads to the event (0 for the first). */
  level: number;
  /** 1-based line in trace.jsonl. */
  line: number;
  /** The body as JSON, cut to a few hundred characters. */
  body: string;
}

/** A message: the send (or relay) `from` whose clock the receive `to` merged. */
export interface ReportEdge {
  from: EventId;
  to: EventId;
  /**
   * The receive is of a Raft RPC whose send was not recorded (an untraced heartbeat or its
   * reply: docs/TRACING.md "Heartbeats"), so `from` is the sender's latest recorded event,
   * whose clock the message carried, not the send itself (e.g. an AppendEntriesResRecv
   * into an AppendEntriesRecv). Drawn dashed, and its tooltip says so.
   */
  unrecorded?: true;
}

/** A term on the cluster-wide band, in levels of logical time. */
export interface TermSpan {
  term: number;
  /** First level at which some server acted in this term. */
  start: number;
  /** First level of a higher term (or the last level + 1). */
  end: number;
  /** The server a LeaderElected of this term names, if any. */
  leader?: string;
}

/** A LeaderElected mark. */
export interface LeaderMark {
  event: EventId;
  server: string;
  term: number;
  level: number;
}

/** A stretch of one server's lane in one term (from the events that carry its own term). */
export interface LaneTerm {
  host: string;
  term: number;
  start: number;
  end: number;
}

/** One client operation on one key, from call to return (history.json; mget/mput give one per key). */
export interface ReportOp {
  /** `clientId:opId` (the operation's trace id), plus `#key` for an operation on several keys. */
  id: string;
  traceId: string;
  key: string;
  clientId: string;
  /** e.g. `put(k1, "v1")`, `mget(a, b)`. */
  input: string;
  /** What came back, e.g. `"v1"`, or the error. */
  output: string;
  outcome: 'ok' | 'failed' | 'unknown';
  /** ms after the first call in history.json. */
  call: number;
  /** ms after the first call: when the client had the answer, or gave up (outcome unknown: it may still take effect later). */
  ret: number;
}

/** A key that is not linearizable, with the operations no order explains (linearizability.ts `explain`). */
export interface ReportCounterexample {
  key: string;
  /** The operation whose result cannot be explained (a ReportOp id). */
  culprit: string;
  /** Every operation of the set, the culprit among them (ReportOp ids, by call time). */
  ops: string[];
  minimal: boolean;
  /** One line per operation, as `raftkv check` prints them. */
  lines: string[];
}

export interface ReportOffender {
  /** The event it points at, or null (a history entry, a file). */
  event: EventId | null;
  /** Other events its message names (`Tag@host:counter`). */
  related: EventId[];
  host: string;
  line: number | null;
  message: string;
  details: string[];
}

export interface ReportRule {
  rule: string;
  status: 'PASS' | 'FAIL' | 'SKIP';
  note?: string;
  /** The first offenders (at most MAX_OFFENDERS per rule), and how many there were. */
  offenders: ReportOffender[];
  count: number;
}

export interface ReportModel {
  title: string;
  runDir: string;
  generatedAt: string;
  scenario: string | null;
  /** Lanes top to bottom: servers, then clients, then any other host. */
  hosts: { name: string; kind: 'server' | 'client' | 'other' }[];
  events: ReportEvent[];
  edges: ReportEdge[];
  terms: TermSpan[];
  leaders: LeaderMark[];
  laneTerms: LaneTerm[];
  /** Levels drawn: 0 .. levels - 1. */
  levels: number;
  /** Events in trace.jsonl and how many are drawn (the first by logical time). */
  totalEvents: number;
  /** Receives whose sender is missing from the trace (e.g. a killed process's lost tail). */
  unmatchedReceives: number;
  ops: ReportOp[];
  totalOps: number;
  counterexamples: ReportCounterexample[];
  rules: ReportRule[];
  ok: boolean;
  /** Notes shown at the top: caps applied, files missing. */
  notes: string[];
  /** Sections a caller adds below the notes (a chaos run's faults), when given. */
  sections?: ReportSection[];
}

/** A titled list of text rows, shown as given (ModelOptions.sections). */
export interface ReportSection {
  title: string;
  rows: string[];
}
