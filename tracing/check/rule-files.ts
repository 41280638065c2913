import { nowhere, result, type Offender, type RuleResult, type Trace } from './trace.ts';

/** The run's files are all there and readable: nothing a later rule reads was dropped silently. */
export function filesRule(trace: Trace): RuleResult {
  const run = trace.run;
  const offenders: Offender[] = [];
  for (const e of run.jsonlErrors) offenders.push({ host: 'trace.jsonl', clock: null, line: e.line, message: e.message });
  for (const p of run.problems) {
    if (p.startsWith('trace.jsonl line ')) continue; // listed above with its line
    offenders.push(nowhere(p.split(/[: ]/)[0], p));
  }
  if (run.records.length === 0) offenders.push(nowhere('trace.jsonl', 'trace.jsonl holds no records'));
  const notes: string[] = [];
  if (run.meta === null && !run.problems.some((p) => p.startsWith('meta.json'))) {
    notes.push('no meta.json: majorities are counted against the servers that appear in the trace');
  }
  return result('files', offenders, { note: notes.join('; ') || undefined });
}
