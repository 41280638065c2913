import { loadRun, type LiveCut, type LoadedRun } from './load.ts';
import { GENERAL_RULES, RULE_REFS } from './rules.ts';
import { capLine, shortenLine, shortenText } from './shorten.ts';
import { Trace, type NamedRule, type Offender, type Rule, type RuleResult } from './trace.ts';

export const OFFENDERS_SHOWN = 20;
/** Detail lines printed under one offender; the rest are counted. */
export const DETAILS_SHOWN = 30;

export interface CheckReport {
  dir: string;
  results: RuleResult[];
  /** Every rule passed or was skipped. */
  ok: boolean;
  /** Set when the run was still being written: the cut graded (load.ts). */
  live?: LiveCut;
  /** Set when the run's tracing server died without closing it (LoadedRun.abandoned). */
  abandoned?: { pid: number; historyFile: string | null };
}

/** A scenario's rule: a function (its result names it) or a NamedRule. */
export type ExtraRule = Rule | NamedRule;

/**
 * Loads a run directory and runs the general rules, then `extraRules`. Throws LoadError
 * when trace.jsonl is missing or unreadable. A rule that throws is a FAIL of that rule.
 */
export function runChecks(dir: string, extraRules: readonly ExtraRule[] = []): CheckReport {
  return checkRun(loadRun(dir), extraRules);
}

function checkRun(run: LoadedRun, extraRules: readonly ExtraRule[] = []): CheckReport {
  const trace = new Trace(run);
  const rules: NamedRule[] = [
    ...GENERAL_RULES,
    ...extraRules.map((r, i) => (typeof r === 'function' ? { name: r.name || `scenario-rule-${i + 1}`, check: r } : r)),
  ];
  const results = rules.map(({ name, check }) => {
    try {
      return check(trace);
    } catch (err) {
      const e = err as Error;
      return { rule: name, status: 'FAIL' as const, offenders: [{ host: '-', clock: null, line: null, message: `the rule threw: ${e.stack ?? e.message}` }], count: 1 };
    }
  });
  return { dir: run.dir, results, ok: results.every((r) => r.status !== 'FAIL'), ...(run.live ? { live: run.live } : {}), ...(run.abandoned ? { abandoned: run.abandoned } : {}) };
}

/**
 * The report people read: one line per rule, then its offenders as `host:counter line N:
 * message`. Printing shortens long values, lists and lines (see shorten.ts); the
 * CheckReport keeps every offender whole. `preamble` lines go right below the
 * `raftkv check <dir>` header (e.g. the scenario whose rules were added).
 */
export function formatReport(report: CheckReport, preamble: readonly string[] = []): string {
  const lines: string[] = [`raftkv check ${report.dir}`];
  if (report.live) lines.push(liveLine(report.live));
  if (report.abandoned) lines.push(abandonedLine(report.abandoned));
  lines.push(...preamble);
  const width = Math.max(...report.results.map((r) => label(r).length));
  for (const r of report.results) {
    lines.push(capLine(`${r.status.padEnd(4)}  ${label(r).padEnd(width)}${r.note ? `  (${shortenText(r.note)})` : ''}`.trimEnd()));
    for (const o of r.offenders.slice(0, OFFENDERS_SHOWN)) {
      lines.push(`      ${formatOffender(o)}`);
      const details = o.details ?? [];
      for (const d of details.slice(0, DETAILS_SHOWN)) lines.push(`          ${shortenLine(d)}`);
      if (details.length > DETAILS_SHOWN) lines.push(`          ... and ${details.length - DETAILS_SHOWN} more lines`);
    }
    if (r.offenders.length > OFFENDERS_SHOWN) lines.push(`      ... and ${r.offenders.length - OFFENDERS_SHOWN} more (${r.offenders.length} in all)`);
    else if (r.offenders.length > 1) lines.push(`      (${r.offenders.length} offenders)`);
  }
  const failed = report.results.filter((r) => r.status === 'FAIL').map((r) => r.rule);
  lines.push(failed.length === 0 ? `OK: ${report.results.length} rules, none failed` : `FAILED: ${failed.join(', ')}`);
  return lines.join('\n');
}

/**
 * `host:counter line N: message`, where counter is the host's own clock entry (its place
 * in its host's order, as ShiViz numbers it), with `(op <clientId>:<opId>)` after the line
 * when the event belongs to an operation: a client's host is its client id, so its
 * `host:counter` (e.g. `myc3:3`, its third event) reads like an operation's id. Other hosts' entries are left out: a
 * message that involves another host's event names it itself, as `Tag@host:counter
 * (line N)`. The message is shortened (shorten.ts) and the line capped at MAX_LINE.
 */
export function formatOffender(o: Offender): string {
  const own = o.clock ? o.clock[o.host] : undefined;
  const where = [own !== undefined ? `${o.host}:${own}` : o.host, o.line !== null ? `line ${o.line}` : null, o.op ? `(op ${o.op})` : null].filter((x) => x !== null).join(' ');
  return shortenLine(`${where}: ${o.message}`);
}

/** The line that says a run was graded while still being written, and how much of it. */
/** What `check` says of a run whose tracing server died without closing it. */
export function abandonedLine(a: { pid: number; historyFile: string | null }): string {
  return `the run's tracing server (pid ${a.pid}) stopped without closing it (killed?): graded as it was left${a.historyFile === 'history.jsonl' ? ', the history from history.jsonl (what it had flushed)' : ''}`;
}

export function liveLine(live: LiveCut): string {
  const left = live.total - live.events;
  return `run still being written: graded up to line ${live.line} (${live.events} events${left > 0 ? `; ${left} whose causes had not arrived yet left out` : ''}); operations in flight (${live.inFlight}) and clients not yet stopped are not judged`;
}

function label(r: RuleResult): string {
  return RULE_REFS[r.rule] ? `${r.rule} [${RULE_REFS[r.rule]}]` : r.rule;
}
