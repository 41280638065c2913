import path from 'node:path';
import { parseArgs } from 'node:util';
import { LoadError } from '../../tracing/check/load.ts';
import { ReportWriteError, writeReport } from '../../tracing/report/write-report.ts';
import { scenarioOf } from './check-command.ts';
import { argsErrorMessage } from './usage.ts';

interface ReportIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const consoleIo: ReportIo = { out: (t) => console.log(t), err: (t) => console.error(t) };

export const REPORT_USAGE = `usage: raftkv report <runDir> [-o <file>] [--max-events N]
  writes the run as one self-contained HTML page: a lane per process with the messages
  between them, the terms, the client operations per key, the linearizability
  counterexample, and raftkv check's rule table (docs/TRACING.md "The report")
  -o, --out <file>  where to write (default <runDir>/report.html); not one of the run's
                    own files (trace.jsonl, shiviz.log, history.json, meta.json, logs/,
                    slice.log)
  --max-events N    draw at most N events, the first by logical time (default 12000)
  Exit 0 written and every rule passed, 1 written and some rule failed, 2 bad arguments,
  no run directory, an unreadable trace.jsonl or an output that cannot be written
  (nothing written).`;

/**
 * The command line after `report` (parsed here with node:util parseArgs, as
 * trace-command.ts does, so a usage error prints this command's usage, not the global
 * one); returns the exit code of runReportCommand, or 2 for bad arguments.
 */
export function reportMain(argv: readonly string[], io: ReportIo = consoleIo): number {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: { out: { type: 'string', short: 'o' }, 'max-events': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    io.err(`raftkv report: ${argsErrorMessage(err as Error)}\n${REPORT_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(REPORT_USAGE);
    return 0;
  }
  const usage = (message: string) => {
    io.err(`raftkv report: ${message}\n${REPORT_USAGE}`);
    return 2;
  };
  if (positionals.length !== 1) return usage(positionals.length === 0 ? 'expected a run directory' : `expected one run directory (got ${positionals.join(' ')})`);
  let maxEvents: number | undefined;
  if (values['max-events'] !== undefined) {
    maxEvents = Number(values['max-events']);
    if (!/^\d+$/.test(values['max-events']) || !Number.isSafeInteger(maxEvents) || maxEvents < 1) return usage(`--max-events must be a positive integer (got "${values['max-events']}")`);
  }
  if (values.out === '') return usage('-o takes a file name');
  return runReportCommand(positionals[0], { ...(values.out !== undefined ? { out: values.out } : {}), ...(maxEvents !== undefined ? { maxEvents } : {}) }, io);
}

/**
 * `raftkv report <runDir> [-o <file>] [--max-events N]`: writes the run's report.html
 * (tracing/report/write-report.ts; default beside its trace) and prints where. The rules
 * are `raftkv check`'s, with a demo scenario's own rules when meta.json names one. Returns
 * the exit code as check does: 0 written and every rule passed (or skipped), 1 written
 * and some rule failed, 2 no run directory, trace.jsonl missing or unreadable, or an
 * output it may not or cannot write (nothing written; tracing/run-files.ts).
 */
export function runReportCommand(dir: string, opts: { out?: string; maxEvents?: number } = {}, io: ReportIo = consoleIo): number {
  const scenario = scenarioOf(dir);
  try {
    const started = Date.now();
    const r = writeReport(dir, { extraRules: scenario?.traceRules ?? [], ...(opts.out !== undefined ? { out: opts.out } : {}), ...(opts.maxEvents !== undefined ? { maxEvents: opts.maxEvents } : {}) });
    const drawn = r.drawnEvents < r.events ? `${r.drawnEvents} of ${r.events} events drawn (--max-events)` : `${r.events} events`;
    const shown = path.relative(process.cwd(), r.file);
    io.out(
      `wrote ${shown.startsWith('..') ? r.file : shown} (${drawn}, ${r.edges} messages, ${r.ops} operation bars; ${(r.bytes / 1024).toFixed(0)} KiB, ${Date.now() - started} ms): ${r.ok ? 'every rule passed' : 'some rule FAILED'}`,
    );
    return r.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof LoadError || err instanceof ReportWriteError) {
      io.err(`raftkv report: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
