import path from 'node:path';
import { LoadError } from '../../tracing/check/load.ts';
import { writeReport } from '../../tracing/report/write-report.ts';
import { scenarioOf } from './check-command.ts';

interface ReportIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const consoleIo: ReportIo = { out: (t) => console.log(t), err: (t) => console.error(t) };

/**
 * `raftkv report <runDir> [-o <file>] [--max-events N]`: writes the run's report.html
 * (tracing/report/write-report.ts; default beside its trace) and prints where. The rules
 * are `raftkv check`'s, with a demo scenario's own rules when meta.json names one. Returns
 * the exit code as check does: 0 written and every rule passed (or skipped), 1 written
 * and some rule failed, 2 trace.jsonl missing or unreadable (nothing written).
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
    if (err instanceof LoadError) {
      io.err(`raftkv report: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
