import { writeFileSync } from 'node:fs';
import path from 'node:path';
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

/**
 * Writes a run directory's report: one self-contained HTML page (lanes and messages,
 * terms, client operations per key, the linearizability counterexample, the rule table;
 * see docs/TRACING.md "The report"). Runs the checker unless `opts.report` gives its
 * results. Throws LoadError (tracing/check/load.ts) when trace.jsonl is missing or
 * unreadable, and Error when d3 is not installed or the file cannot be written.
 */
export function writeReport(runDir: string, opts: ReportOptions = {}): WrittenReport {
  const model = buildModel(runDir, opts);
  const html = renderPage(model, d3Bundle());
  const file = path.resolve(opts.out ?? path.join(runDir, 'report.html'));
  writeFileSync(file, html);
  return { file, bytes: Buffer.byteLength(html), events: model.totalEvents, drawnEvents: model.events.length, edges: model.edges.length, ops: model.totalOps, ok: model.ok };
}
