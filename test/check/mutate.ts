import type { CheckReport } from '../../tracing/check/report.ts';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HistoryEntry } from '../../tracing/history.ts';
import type { TraceRecord } from '../../tracing/record.ts';
import { formatJsonl, formatShiViz, parseJsonl } from '../../tracing/shiviz.ts';
import type { RunMeta } from '../../tracing/check/load.ts';

export interface RunFiles {
  records: TraceRecord[];
  history: HistoryEntry[];
  meta: RunMeta | null;
}

export function readRun(dir: string): RunFiles {
  const { records, errors } = parseJsonl(readFileSync(path.join(dir, 'trace.jsonl'), 'utf8'));
  if (errors.length > 0) throw new Error(`good run has bad lines: ${JSON.stringify(errors)}`);
  let meta: RunMeta | null = null;
  try {
    meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as RunMeta;
  } catch {
    meta = null;
  }
  return {
    // Deep copies without line numbers: mutations never touch the good run.
    records: records.map(({ line: _line, ...r }) => structuredClone(r)),
    history: JSON.parse(readFileSync(path.join(dir, 'history.json'), 'utf8')) as HistoryEntry[],
    meta,
  };
}

/**
 * Copies the good run to a fresh temp dir after `change` edits its records, history and
 * meta; shiviz.log is rewritten from the records, so both files keep telling the same story.
 */
export function mutateRun(goodDir: string, change: (run: RunFiles) => void, opts: { keepShiviz?: boolean } = {}): string {
  const run = readRun(goodDir);
  change(run);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-check-mut-'));
  writeFileSync(path.join(dir, 'trace.jsonl'), formatJsonl(run.records));
  if (opts.keepShiviz) cpSync(path.join(goodDir, 'shiviz.log'), path.join(dir, 'shiviz.log'));
  else writeFileSync(path.join(dir, 'shiviz.log'), formatShiViz(run.records));
  writeFileSync(path.join(dir, 'history.json'), JSON.stringify(run.history, null, 1));
  if (run.meta) writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(run.meta));
  return dir;
}

/** A host's records in its own order. */
export function hostRecords(records: TraceRecord[], host: string): TraceRecord[] {
  return records.filter((r) => r.host === host).sort((a, b) => a.clock[host] - b.clock[host]);
}

/** Swaps what two events say (tag, trace id, body), leaving their clocks in place. */
export function swapContent(a: TraceRecord, b: TraceRecord): void {
  const { tag, traceId, body } = a;
  a.tag = b.tag;
  a.traceId = b.traceId;
  a.body = b.body;
  b.tag = tag;
  b.traceId = traceId;
  b.body = body;
}

/** The names of the rules a report failed, sorted: what a mutation test asserts first. */
export function failingRules(report: CheckReport): string[] {
  return report.results.filter((r) => r.status === 'FAIL').map((r) => r.rule).sort();
}
