/**
 * Where a chaos run gets its report.html: `writeReport(runDir)` from tracing/report/,
 * which another change is building.
 *
 * TODO(report): the single call site to wire once tracing/report/ is merged: import
 * { writeReport } from '../../tracing/report/...' and call it here. Until then the run's
 * files (chaos.json, history.json, and with --trace the trace) are the report.
 */
export async function writeRunReport(runDir: string, log: (line: string) => void): Promise<void> {
  void runDir;
  void log;
}
