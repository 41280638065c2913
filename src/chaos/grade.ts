import type { HistoryEntry } from '../../tracing/history.ts';
import { checkHistory, formatOp } from '../../tracing/check/linearizability.ts';
import { formatOffender, runChecks, type CheckReport } from '../../tracing/check/report.ts';
import { lostWrites, type LostWrite } from './lost-writes.ts';

/** One check of the run, as the verdict lists it. */
export interface CheckLine {
  rule: string;
  status: 'PASS' | 'FAIL' | 'SKIP';
  note?: string;
  /** The first offenders, formatted. */
  offenders: string[];
}

export interface Grade {
  /** Every check passed and the run was not stuck. */
  ok: boolean;
  checks: CheckLine[];
  lost: LostWrite[];
  /** One line per failed check, for the summary. */
  violations: string[];
  /** The checker's own results on a traced run (the report reuses them). */
  traceReport?: CheckReport;
}

export interface GradeInput {
  runDir: string;
  /** The whole client history, final reads included. */
  history: readonly HistoryEntry[];
  /** Each key's final value, read after the last restart ('' when absent). */
  finals: ReadonlyMap<string, string>;
  /** Keys the clients used: each must have a final value. */
  keys: readonly string[];
  /** The run was traced: every trace rule (tracing/check) is run on runDir. */
  traced: boolean;
  /** Why the run is stuck (no leader, no write after the heal, final reads failed), or null. */
  stuck: string | null;
  /** Servers that died without being killed. */
  crashes: readonly string[];
  /** A step of the run that failed (a server that did not start again...), or null. */
  runError: string | null;
}

const SHOWN = 3;

/**
 * Grades a chaos run: with a trace, every rule of the project's checker (runChecks on the
 * run directory: linearizability of the whole history with unknown outcomes, exactly-once,
 * elections, log matching, ...); without one, linearizability of history.json. Then, in
 * both: no acknowledged write lost (lost-writes.ts), a final value for every key, no
 * server crashed by itself, not stuck. Undecided linearizability (search budget spent) is
 * a SKIP, reported but not a violation.
 */
export function gradeRun(input: GradeInput): Grade {
  const traceReport = input.traced ? runChecks(input.runDir) : undefined;
  const checks: CheckLine[] = traceReport ? traceChecks(traceReport) : [historyCheck(input.history)];
  const lost = lostWrites(input.history, input.finals);
  checks.push({
    rule: 'no lost acknowledged write',
    status: lost.length === 0 ? 'PASS' : 'FAIL',
    note: `${plural(input.finals.size, 'key')} read at the end`,
    offenders: lost.slice(0, SHOWN).map((l) => `${l.entry.clientId}:${l.entry.opId} ${l.entry.op.type} wrote ${l.key}=${l.wrote} (acknowledged, nothing could overwrite it), final value ${JSON.stringify(l.finalValue)}`),
  });
  const missing = input.keys.filter((k) => !input.finals.has(k));
  checks.push({ rule: 'final reads', status: missing.length === 0 ? 'PASS' : 'FAIL', offenders: missing.length ? [`no final value for ${missing.join(', ')}`] : [] });
  checks.push({ rule: 'no server crashed by itself', status: input.crashes.length === 0 ? 'PASS' : 'FAIL', offenders: input.crashes.slice(0, SHOWN) });
  checks.push({ rule: 'every step of the run completed', status: input.runError === null ? 'PASS' : 'FAIL', offenders: input.runError ? [input.runError] : [] });
  checks.push({ rule: 'not stuck', status: input.stuck === null ? 'PASS' : 'FAIL', offenders: input.stuck ? [input.stuck] : [] });
  const violations = checks.filter((c) => c.status === 'FAIL').map((c) => `${c.rule}: ${cap(c.offenders[0] ?? 'failed', 240)}`);
  return { ok: violations.length === 0, checks, lost, violations, ...(traceReport ? { traceReport } : {}) };
}

function traceChecks(report: CheckReport): CheckLine[] {
  return report.results.map((r) => ({
    rule: r.rule,
    status: r.status,
    ...(r.note ? { note: r.note } : {}),
    offenders: r.offenders.slice(0, SHOWN).map(formatOffender),
  }));
}

function historyCheck(history: readonly HistoryEntry[]): CheckLine {
  const { keys, partition } = checkHistory(history);
  const t0 = Math.min(...history.map((h) => h.call));
  const offenders: string[] = [];
  for (const k of keys) {
    if (k.verdict !== false) continue;
    const cx = k.counterexample;
    offenders.push(cx ? `key ${k.key}: not linearizable: ${cx.ops.map((o) => `${o === cx.culprit ? '*' : ''}${formatOp(o, t0)}`).join(' ; ')}` : `key ${k.key}: its ${k.ops} operations cannot be linearized`);
  }
  for (const h of partition.malformed) offenders.push(`history entry ${h.clientId}:${h.opId} has no output values for its keys`);
  const undecided = keys.filter((k) => k.verdict === 'unknown').map((k) => k.key);
  const note = `${plural(keys.length, 'key')}, ${plural(history.length, 'operation')}, ${plural(partition.pendingWrites, 'write')} of unknown outcome${undecided.length ? `; UNDECIDED within the search budget: ${undecided.join(', ')}` : ''}`;
  return { rule: 'linearizability', status: offenders.length > 0 ? 'FAIL' : undecided.length > 0 ? 'SKIP' : 'PASS', note, offenders: offenders.slice(0, SHOWN) };
}

/** `1 key`, `3 keys`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A long line cut to `max` characters, saying how long it was. */
export function cap(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 20)}... (${text.length} chars)`;
}
