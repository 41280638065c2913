import { happensBefore, type VectorClock } from '../clock.ts';
import type { JsonlRecord } from '../shiviz.ts';
import type { LiveCut, LoadedRun } from './load.ts';

/**
 * What every rule gets: the loaded run plus indexes and the questions rules ask of a
 * trace (events by tag, host or trace id; a host's own order; happens-before; process
 * lives). Scenario scripts write their own rules against the same API.
 */

export type TraceEvent = JsonlRecord;

type RuleStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface Offender {
  /** The host of the offending event (or the client of a history entry). */
  host: string;
  clock: VectorClock | null;
  /** The line in trace.jsonl (null when the offence is not one event, e.g. in history.json). */
  line: number | null;
  message: string;
  /** Extra lines printed under the message (e.g. a linearizability counterexample). */
  details?: string[];
  /**
   * The operation (`<clientId>:<opId>`) the offending event belongs to, when it belongs to
   * one: the report prints it beside `host:counter`, which for a client's event (its host
   * is its client id) reads like another operation's id.
   */
  op?: string;
}

export interface RuleResult {
  rule: string;
  status: RuleStatus;
  /** Every offender; the report prints the first OFFENDERS_SHOWN. */
  offenders: Offender[];
  /** offenders.length, kept for readers of a JSON dump. */
  count: number;
  note?: string;
}

/** A check a scenario (or this package) runs on a trace. Throwing counts as FAIL. */
export type Rule = (trace: Trace) => RuleResult;

/** A named rule, for lists where the name is needed before the rule runs (e.g. when it throws). */
export interface NamedRule {
  name: string;
  check: Rule;
}

const SERVER_TAGS = new Set([
  'ServerStart', 'ServerListening', 'RaftStart', 'RequestVote', 'RequestVoteRecv', 'RequestVoteRes', 'RequestVoteResRecv',
  'LeaderElected', 'AppendEntries', 'AppendEntriesRecv', 'AppendEntriesRes', 'AppendEntriesResRecv', 'Commit', 'Apply',
  'InstallSnapshot', 'InstallSnapshotRecv', 'InstallSnapshotRes', 'InstallSnapshotResRecv', 'SnapshotTaken', 'SnapshotRestored',
  'GetRecv', 'PutRecv', 'GetFwd', 'PutFwd', 'RaftPutReq', 'GetResult', 'PutResult', 'GetResultFwd', 'PutResultFwd',
]);

const CLIENT_TAGS = new Set([
  'KvslibStart', 'KvslibStop', 'NewServerConnection', 'GetStart', 'PutStart', 'GetSend', 'PutSend', 'GetResultRecvd', 'PutResultRecvd',
]);

export class Trace {
  readonly dir: string;
  readonly run: LoadedRun;
  readonly records: readonly TraceEvent[];
  private readonly byHostMap = new Map<string, TraceEvent[]>();
  private readonly byTraceIdMap = new Map<string, TraceEvent[]>();
  private readonly byTagMap = new Map<string, TraceEvent[]>();
  /** Per client host, per event: whether its life ended without KvslibStop (lifeDied). */
  private readonly diedCache = new Map<string, Map<TraceEvent, boolean>>();

  constructor(run: LoadedRun) {
    this.run = run;
    this.dir = run.dir;
    this.records = run.records;
    for (const r of run.records) {
      push(this.byHostMap, r.host, r);
      push(this.byTagMap, r.tag, r);
      if (r.traceId) push(this.byTraceIdMap, r.traceId, r);
    }
    for (const [host, list] of this.byHostMap) list.sort((a, b) => (a.clock[host] ?? 0) - (b.clock[host] ?? 0));
  }

  get history() {
    return this.run.history;
  }

  get meta() {
    return this.run.meta;
  }

  /**
   * Set when the run is still being written (load.ts): the rules then judge only what is
   * finished (operations answered, clients stopped) in the consistent cut loaded.
   */
  get live(): LiveCut | null {
    return this.run.live ?? null;
  }

  /** Events matching every given field, in the order of trace.jsonl (or the host's order when `host` is given). */
  events(filter: { tag?: string | readonly string[]; host?: string; traceId?: string; where?: (e: TraceEvent) => boolean } = {}): TraceEvent[] {
    let list: readonly TraceEvent[];
    if (filter.host !== undefined) list = this.byHostMap.get(filter.host) ?? [];
    else if (filter.traceId !== undefined) list = this.byTraceIdMap.get(filter.traceId) ?? [];
    else if (typeof filter.tag === 'string') list = this.byTagMap.get(filter.tag) ?? [];
    else list = this.records;
    const tags = filter.tag === undefined ? null : new Set(typeof filter.tag === 'string' ? [filter.tag] : filter.tag);
    return list.filter(
      (e) =>
        (tags === null || tags.has(e.tag)) &&
        (filter.host === undefined || e.host === filter.host) &&
        (filter.traceId === undefined || e.traceId === filter.traceId) &&
        (filter.where === undefined || filter.where(e)),
    );
  }

  /** A host's events in its own order (by its own counter). */
  hostEvents(host: string): readonly TraceEvent[] {
    return this.byHostMap.get(host) ?? [];
  }

  hosts(): string[] {
    return [...this.byHostMap.keys()];
  }

  traceIds(): string[] {
    return [...this.byTraceIdMap.keys()];
  }

  /** a happens-before b (vector clocks: a <= b and a != b). */
  hb(a: TraceEvent, b: TraceEvent): boolean {
    return happensBefore(a.clock, b.clock);
  }

  /** The event's own counter: its place in its host's order. */
  counter(e: TraceEvent): number {
    return e.clock[e.host] ?? 0;
  }

  /** Hosts that behave as servers: meta.servers, plus any host that recorded a server action. */
  serverHosts(): string[] {
    const out = new Set(this.meta?.servers ?? []);
    for (const [host, list] of this.byHostMap) if (list.some((e) => SERVER_TAGS.has(e.tag))) out.add(host);
    return [...out].sort();
  }

  /** Hosts that recorded a client (kvslib) action. */
  clientHosts(): string[] {
    return [...this.byHostMap].filter(([, list]) => list.some((e) => CLIENT_TAGS.has(e.tag))).map(([h]) => h).sort();
  }

  /** A host's process lives: its events split before each ServerStart (events before the first form their own life). */
  lives(host: string): TraceEvent[][] {
    return this.splitBefore(host, 'ServerStart');
  }

  /**
   * A client host's lives: its events split before each KvslibStart (events before the
   * first form their own life). One CLI command with `--client-id` is one life; the next
   * command of that client id is the next, its clock and OpIds carrying on (client state
   * dir), as a restarted server's lives do.
   */
  clientLives(host: string): TraceEvent[][] {
    return this.splitBefore(host, 'KvslibStart');
  }

  /** A host's events split before each event tagged `tag` (events before the first form their own part). */
  private splitBefore(host: string, tag: string): TraceEvent[][] {
    const parts: TraceEvent[][] = [];
    for (const e of this.hostEvents(host)) {
      if (e.tag === tag || parts.length === 0) parts.push([]);
      parts[parts.length - 1].push(e);
    }
    return parts;
  }

  /**
   * Whether `later` is in a later life of its client than `earlier` (same host, a
   * KvslibStart between them): how `raftkv retry --client-id` repeats an operation whose
   * outcome was unknown, with its OpId, in a new process.
   */
  laterLife(earlier: TraceEvent, later: TraceEvent): boolean {
    if (earlier.host !== later.host) return false;
    const [a, b] = [this.counter(earlier), this.counter(later)];
    return this.hostEvents(earlier.host).some((e) => e.tag === 'KvslibStart' && this.counter(e) > a && this.counter(e) <= b);
  }

  /**
   * Whether the client life that holds `e` (a client event) ended without KvslibStop: its
   * process died (killed, Ctrl-C) before it stopped kvslib. That is a legitimate end of a
   * life, whether a later life of the client id follows or not; only on a run still being
   * written is a last life without KvslibStop taken as still running (false).
   * Operations started in such a life and not answered in it are cut short: their client
   * never saw their outcome, so they may or may not have taken effect.
   */
  lifeDied(e: TraceEvent): boolean {
    let ended = this.diedCache.get(e.host);
    if (!ended) {
      ended = new Map();
      const lives = this.clientLives(e.host);
      lives.forEach((life, i) => {
        const died = !life.some((x) => x.tag === 'KvslibStop') && (i < lives.length - 1 || !this.live);
        for (const x of life) ended!.set(x, died);
      });
      this.diedCache.set(e.host, ended);
    }
    return ended.get(e) ?? false;
  }

  /** Servers with a ServerStart that happened before `e` (or is `e`'s own host's current life). */
  serversStartedBefore(e: TraceEvent): string[] {
    const out = new Set<string>();
    for (const s of this.events({ tag: 'ServerStart' })) {
      if (s === e || this.hb(s, e) || (s.host === e.host && this.counter(s) <= this.counter(e))) out.add(s.host);
    }
    return [...out].sort();
  }
}

/** Builds a RuleResult: FAIL when there is any offender, else PASS (or `status` when given). */
export function result(rule: string, offenders: Offender[], opts: { note?: string; status?: RuleStatus } = {}): RuleResult {
  const status = offenders.length > 0 ? 'FAIL' : (opts.status ?? 'PASS');
  return { rule, status, offenders, count: offenders.length, ...(opts.note ? { note: opts.note } : {}) };
}

export function skip(rule: string, note: string): RuleResult {
  return { rule, status: 'SKIP', offenders: [], count: 0, note };
}

/** An offender pointing at one event. */
export function at(e: TraceEvent, message: string, details?: string[]): Offender {
  return { host: e.host, clock: e.clock, line: e.line, message, ...(details ? { details } : {}), ...(e.traceId ? { op: e.traceId } : {}) };
}

/** An offender that is not one event (history.json, a missing file). */
export function nowhere(host: string, message: string, details?: string[]): Offender {
  return { host, clock: null, line: null, message, ...(details ? { details } : {}) };
}

/** `Tag@host:counter (line N)`: how messages name another event. */
export function describe(e: TraceEvent): string {
  return `${e.tag}@${e.host}:${e.clock[e.host] ?? '?'} (line ${e.line})`;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
