import path from 'node:path';
import { loadRun } from '../check/load.ts';
import { runChecks, type CheckReport, type ExtraRule } from '../check/report.ts';
import { linearizabilityOptions } from '../check/rule-linearizability.ts';
import { Trace } from '../check/trace.ts';
import { eventId, layOut } from './layout.ts';
import type { ReportEvent, ReportModel, ReportOffender, ReportRule, ReportSection } from './model.ts';
import { counterexamples, historyOps } from './operations.ts';
import { laneTerms, termBand } from './terms.ts';

/** Events drawn by default: a few scenario runs' worth; beyond it the page stays usable and says where it stopped. */
export const MAX_EVENTS = 12_000;
/** Operation bars drawn by default (a counterexample's are always drawn). */
export const MAX_OPS = 4_000;
/** Offenders listed per rule. */
export const MAX_OFFENDERS = 50;
const BODY_CHARS = 400;

/** What buildModel (and writeReport) take besides the run directory. */
export interface ModelOptions {
  /** A scenario's own rules, run after the general ones (as `raftkv check` does). */
  extraRules?: readonly ExtraRule[];
  /** Results already computed for this run (a scenario run grades it before writing its report). */
  report?: CheckReport;
  /** Events drawn at most (default MAX_EVENTS); the rest are counted in a note. */
  maxEvents?: number;
  /** Operation bars drawn at most (default MAX_OPS), besides a counterexample's. */
  maxOps?: number;
  /** Titled lists of text rows to show below the notes (a chaos run's fault schedule). */
  sections?: readonly ReportSection[];
}

/**
 * Reads a run directory (trace.jsonl required, as for `raftkv check`; LoadError when it
 * is missing or unreadable) and builds what the page draws: lanes laid out by vector
 * clock, message edges, terms, history bars, counterexamples, the rule table. Events
 * past `maxEvents` (by logical time) and bars past `maxOps` are left out, with a note.
 */
export function buildModel(runDir: string, opts: ModelOptions = {}): ReportModel {
  const report = opts.report ?? runChecks(runDir, opts.extraRules ?? []);
  const run = loadRun(runDir);
  const maxEvents = opts.maxEvents ?? MAX_EVENTS;
  const maxOps = opts.maxOps ?? MAX_OPS;
  const notes: string[] = [...run.problems];

  const layout = layOut(run.records);
  // Cut at a level, so what is drawn is closed under happens-before: every drawn event's causes are drawn.
  let drawnLaid = layout.events;
  if (layout.events.length > maxEvents) {
    const cutLevel = layout.events[maxEvents].level;
    drawnLaid = layout.events.filter((e) => e.level < cutLevel);
    // Slice ranges are over trace.jsonl lines: start at the earliest line left out.
    let first = layout.events[maxEvents];
    for (const e of layout.events) if (e.level >= cutLevel && e.record.line < first.record.line) first = e;
    notes.push(
      `Drawing the first ${drawnLaid.length.toLocaleString('en-US')} of ${layout.events.length.toLocaleString('en-US')} events; the first left out is ${first.record.tag} ${first.id} (trace.jsonl line ${first.record.line}). ` +
        `For the events from there as a ShiViz log: ${sliceCommand(runDir, first.id)} (or raise --max-events).`,
    );
  }
  const levels = drawnLaid.length ? drawnLaid[drawnLaid.length - 1].level + 1 : 0;
  const drawnIds = new Set(drawnLaid.map((e) => e.id));
  const events: ReportEvent[] = drawnLaid.map((e) => {
    const body = JSON.stringify(e.record.body);
    return {
      id: e.id,
      host: e.record.host,
      tag: e.record.tag,
      traceId: e.record.traceId,
      level: e.level,
      line: e.record.line,
      body: body.length > BODY_CHARS ? `${body.slice(0, BODY_CHARS - 3)}...` : body,
    };
  });
  const recordOf = new Map(drawnLaid.map((e) => [e.id, e.record]));
  const edges = layout.edges
    .filter((e) => drawnIds.has(e.from) && drawnIds.has(e.to))
    .map((e) => (unrecordedSend(recordOf.get(e.from)!, recordOf.get(e.to)!) ? { ...e, unrecorded: true as const } : e));
  const { terms, leaders } = termBand(drawnLaid, levels);

  const history = run.history ?? [];
  const rules = report.results.map(toRule);
  const linFailed = report.results.some((r) => r.rule === 'linearizability' && r.status === 'FAIL');
  // The rule's own options (keys an earlier run wrote, or set to expire), so the page's counterexample is check's.
  const cxs = linFailed ? counterexamples(history, linearizabilityOptions(new Trace(run))) : [];
  const allOps = historyOps(history);
  const keep = new Set(cxs.flatMap((c) => c.ops));
  const ops = allOps.length > maxOps ? allOps.filter((o, i) => i < maxOps || keep.has(o.id)) : allOps;
  if (ops.length < allOps.length) notes.push(`Drawing ${ops.length.toLocaleString('en-US')} of ${allOps.length.toLocaleString('en-US')} operation bars (the first by call time, and every operation of a counterexample).`);

  const servers = new Set([...(run.meta?.servers ?? []), ...run.records.filter((r) => SERVER_FIRST.has(r.tag)).map((r) => r.host)]);
  const clients = new Set(run.records.filter((r) => r.tag === 'KvslibStart').map((r) => r.host));
  const hostNames = [...new Set(run.records.map((r) => r.host))];
  const kind = (h: string) => (servers.has(h) ? 'server' : clients.has(h) ? 'client' : 'other') as 'server' | 'client' | 'other';
  const rank = { server: 0, client: 1, other: 2 };
  const hosts = hostNames.map((name) => ({ name, kind: kind(name) })).sort((a, b) => rank[a.kind] - rank[b.kind] || a.name.localeCompare(b.name, 'en', { numeric: true }));

  return {
    title: `raftkv report: ${path.basename(path.resolve(runDir))}`,
    runDir,
    generatedAt: new Date().toISOString(),
    scenario: run.meta?.scenario ?? null,
    hosts,
    events,
    edges,
    terms,
    leaders,
    laneTerms: laneTerms(drawnLaid, levels),
    levels,
    totalEvents: run.records.length,
    unmatchedReceives: layout.unmatchedReceives,
    ops,
    totalOps: allOps.length,
    counterexamples: cxs,
    rules,
    ok: report.ok,
    notes,
    ...(opts.sections?.length ? { sections: opts.sections.map((s) => ({ title: s.title, rows: [...s.rows] })) } : {}),
  };
}

/** Events the big-run note's slice command keeps: what ShiViz draws comfortably. */
export const SLICE_EVENTS = 5_000;

/** A `trace slice` command line to paste into a shell: the events from `from` (`host:counter`) on, into <runDir>/slice.log. */
export function sliceCommand(runDir: string, from: string): string {
  return `npx raftkv trace slice ${shellWord(runDir)} --from ${shellWord(from)} --max-events ${SLICE_EVENTS}`;
}

/** A word a POSIX shell reads back as is: plain when safe, else in single quotes. */
function shellWord(text: string): string {
  return /^[\w./:@%+,=-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

const SERVER_FIRST = new Set(['ServerStart', 'RaftStart', 'ServerListening']);

/** Raft RPCs whose receive is `<send>Recv`; heartbeats and their replies may go out unrecorded (docs/TRACING.md "Heartbeats"). */
const RPC_SENDS = new Set(['AppendEntries', 'AppendEntriesRes', 'RequestVote', 'RequestVoteRes', 'InstallSnapshot', 'InstallSnapshotRes', 'TimeoutNow']);

/**
 * A receive of a Raft RPC whose inferred sender is not that RPC's send to this receiver: the
 * message itself was not recorded. Its clock is the sender's as of its latest recorded
 * action, which may be any event, even the same RPC sent to another peer.
 */
function unrecordedSend(from: { tag: string; body: Record<string, unknown> }, to: { tag: string; host: string }): boolean {
  const sent = to.tag.endsWith('Recv') ? to.tag.slice(0, -'Recv'.length) : null;
  if (sent === null || !RPC_SENDS.has(sent)) return false;
  return from.tag !== sent || (typeof from.body.to === 'string' && from.body.to !== to.host);
}

function toRule(r: CheckReport['results'][number]): ReportRule {
  const offenders: ReportOffender[] = r.offenders.slice(0, MAX_OFFENDERS).map((o) => {
    const own = o.clock ? o.clock[o.host] : undefined;
    const event = own !== undefined && o.clock ? eventId(o.host, o.clock) : null;
    const text = [o.message, ...(o.details ?? [])].join('\n');
    const related = [...new Set([...text.matchAll(/@([^\s:@()]+):(\d+)/g)].map((m) => `${m[1]}:${m[2]}`))].filter((id) => id !== event);
    return { event, related, host: o.host, line: o.line, message: o.message, details: (o.details ?? []).slice(0, 40) };
  });
  return { rule: r.rule, status: r.status, ...(r.note ? { note: r.note } : {}), offenders, count: r.count };
}
