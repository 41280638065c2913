import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { outputProblem } from '../run-files.ts';
import { buildModel, type ModelOptions } from './build-model.ts';
import { d3Bundle } from './d3-bundle.ts';
import { renderPage } from './page.ts';

/** buildModel's options, and where to write the page. */
export interface ReportOptions extends ModelOptions {
  /** Where to write (default: report.html in the run directory). */
  out?: string;
}

/** What writeReport wrote: the file, and counts for a summary line. */
export interface WrittenReport {
  file: string;
  /** Size of the page in bytes. */
  bytes: number;
  /** Events in trace.jsonl, and how many the page draws. */
  events: number;
  drawnEvents: number;
  edges: number;
  ops: number;
  ok: boolean;
}

/** Nothing was written: no run directory, an `out` the report may not write (tracing/run-files.ts), or the write failed. */
export class ReportWriteError extends Error {
  override name = 'ReportWriteError';
}

/**
 * Writes a run directory's report: one self-contained HTML page (lanes and messages,
 * terms, client operations per key, the linearizability counterexample, the rule table;
 * see docs/TRACING.md "The report"). Runs the checker unless `opts.report` gives its
 * results. Throws ReportWriteError when `runDir` is not a directory, `out` is one of the
 * run's own files, a directory or in a missing directory (checked before any work), or
 * the page cannot be written (it goes to `out`.tmp, renamed when whole, so nothing is left
 * half written); LoadError (tracing/check/load.ts) when trace.jsonl is missing or
 * unreadable; Error when d3 is not installed.
 */
export function writeReport(runDir: string, opts: ReportOptions = {}): WrittenReport {
  let isDir = false;
  try {
    isDir = statSync(runDir).isDirectory();
  } catch {
    throw new ReportWriteError(`no run directory ${runDir}`);
  }
  if (!isDir) throw new ReportWriteError(`${runDir} is not a run directory (expected a directory holding trace.jsonl)`);
  const out = opts.out ?? path.join(runDir, 'report.html');
  const refused = outputProblem(runDir, out, 'report');
  if (refused) throw new ReportWriteError(refused);
  const model = buildModel(runDir, opts);
  const html = renderPage(model, d3Bundle());
  const file = path.resolve(out);
  const tmp = `${file}.tmp`;
  try {
    writeFileSync(tmp, html);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new ReportWriteError(`cannot write ${out}: ${(err as Error).message}`);
  }
  return { file, bytes: Buffer.byteLength(html), events: model.totalEvents, drawnEvents: model.events.length, edges: model.edges.length, ops: model.totalOps, ok: model.ok };
}
