import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CheckReport } from '../../tracing/check/report.ts';
import { writeReport } from '../../tracing/report/write-report.ts';
import type { CheckLine } from './grade.ts';
import type { AppliedFault } from './nemesis.ts';
import { describeFault } from './schedule.ts';

/** What a chaos run adds to its report: its own checks and the faults as applied. */
export interface ChaosReportExtras {
  /** Every check of the run (the terminal's list); those the checker did not run are added to the page's rule table. */
  checks: readonly CheckLine[];
  faults: readonly AppliedFault[];
}

/**
 * Writes a chaos run's report.html (tracing/report: lanes and messages, terms, each key's
 * operations, the linearizability counterexample, the rule table) when the run was
 * traced, reusing the checker's results: the rule table holds the trace rules and the
 * chaos checks (lost acknowledged writes, final reads, stuck...), as the terminal does,
 * and a "Faults" section lists the faults with their times after the clients started.
 * An untraced run has no trace to draw, and says so. A report that cannot be written is a
 * warning, never a failed run.
 */
export async function writeRunReport(runDir: string, log: (line: string) => void, checked?: CheckReport, extras?: ChaosReportExtras): Promise<void> {
  if (!existsSync(path.join(runDir, 'trace.jsonl'))) {
    log('no report.html: it draws the trace (run with --trace)');
    return;
  }
  try {
    const report = checked && extras ? withChaosChecks(checked, extras.checks) : checked;
    const sections = extras ? [{ title: 'Faults (s after the clients started)', rows: extras.faults.map(faultRow) }] : [];
    const written = writeReport(runDir, { ...(report ? { report } : {}), sections });
    log(`report: ${path.relative(process.cwd(), written.file) || written.file} (${(written.bytes / 1024).toFixed(0)} KiB, ${written.drawnEvents} of ${written.events} events drawn)`);
    if (written.drawnEvents < written.events) {
      log(`  the page draws the first ${written.drawnEvents} events; for later ones: npx raftkv trace slice ${path.relative(process.cwd(), runDir) || '.'} --from <event> (the page names the first left out), or npx raftkv report <dir> --max-events N`);
    }
  } catch (err) {
    log(`warning: report.html not written: ${(err as Error).message}`);
  }
}

/** The checker's results plus the chaos checks it did not run, as rule results. */
function withChaosChecks(checked: CheckReport, checks: readonly CheckLine[]): CheckReport {
  const have = new Set(checked.results.map((r) => r.rule));
  const added = checks
    .filter((c) => !have.has(c.rule))
    .map((c) => ({
      rule: c.rule,
      status: c.status,
      offenders: c.offenders.map((message) => ({ host: 'chaos', clock: null, line: null, message })),
      count: c.offenders.length,
      ...(c.note ? { note: c.note } : {}),
    }));
  return { ...checked, results: [...checked.results, ...added], ok: checked.ok && added.every((r) => r.status !== 'FAIL') };
}

function faultRow(a: AppliedFault): string {
  const s = (ms: number) => (ms / 1000).toFixed(1);
  return `#${a.planned.n} +${s(a.startMs)} s to +${s(a.endMs)} s  ${describeFault(a.planned, a.servers)}: ${a.error ? `ERROR ${a.error}` : a.detail}`;
}
