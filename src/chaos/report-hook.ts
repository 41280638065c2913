import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CheckReport } from '../../tracing/check/report.ts';
import { writeReport } from '../../tracing/report/write-report.ts';

/**
 * Writes a chaos run's report.html (tracing/report: lanes and messages, terms, each key's
 * operations, the linearizability counterexample, the rule table) when the run was
 * traced, reusing the checker's results; an untraced run has no trace to draw, and says
 * so. A report that cannot be written is a warning, never a failed run.
 */
export async function writeRunReport(runDir: string, log: (line: string) => void, checked?: CheckReport): Promise<void> {
  if (!existsSync(path.join(runDir, 'trace.jsonl'))) {
    log('no report.html: it draws the trace (run with --trace)');
    return;
  }
  try {
    const written = writeReport(runDir, checked ? { report: checked } : {});
    log(`report: ${path.relative(process.cwd(), written.file) || written.file} (${(written.bytes / 1024).toFixed(0)} KiB, ${written.drawnEvents} of ${written.events} events drawn)`);
  } catch (err) {
    log(`warning: report.html not written: ${(err as Error).message}`);
  }
}
