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

/** A client command in an Apply or Commit record, parsed (null for noops and config entries). */
function commandOf(r: TraceRecord): { clientId: string; opId: number; op: { type: string; key?: string; pairs?: { key: string }[] } } | null {
  const text = r.tag === 'Apply' ? r.body.command : r.tag === 'Commit' ? r.body.operation : undefined;
  if (typeof text !== 'string' || !text.startsWith('{')) return null;
  const c = JSON.parse(text) as { clientId?: unknown; opId?: unknown; op?: unknown };
  return typeof c.clientId === 'string' && typeof c.opId === 'number' ? (c as ReturnType<typeof commandOf>) : null;
}

/** Two writes of one client on one key, both executed (a non-duplicate Apply): lower OpId first, with their encoded commands. */
export function sameKeyWrites(records: TraceRecord[]): { client: string; key: string; first: { opId: number; command: string }; second: { opId: number; command: string } } {
  const executed = new Map<string, { opId: number; command: string; keys: string[] }>();
  for (const r of records) {
    const c = r.tag === 'Apply' && r.body.duplicate !== true ? commandOf(r) : null;
    if (!c) continue;
    const keys = c.op.type === 'mput' ? (c.op.pairs ?? []).map((p) => p.key) : [c.op.key ?? ''];
    executed.set(`${c.clientId}:${c.opId}`, { opId: c.opId, command: r.body.command as string, keys });
  }
  const byClientKey = new Map<string, { opId: number; command: string }[]>();
  for (const [id, w] of executed) {
    for (const key of w.keys) {
      const k = `${id.slice(0, id.lastIndexOf(':'))}\u0000${key}`;
      byClientKey.set(k, [...(byClientKey.get(k) ?? []), w]);
    }
  }
  for (const [k, list] of byClientKey) {
    if (list.length < 2) continue;
    const [first, second] = list.sort((a, b) => a.opId - b.opId);
    const [client, key] = k.split('\u0000');
    return { client, key, first: { opId: first.opId, command: first.command }, second: { opId: second.opId, command: second.command } };
  }
  throw new Error('no client wrote one key twice in this run');
}

/**
 * Rewrites an encoded command wherever the log shows it (every Apply's `command`, every
 * Commit's `operation`), so all servers keep agreeing on the entry at its index.
 */
export function rewriteCommand(records: TraceRecord[], command: string, change: (c: Record<string, unknown>) => void): void {
  const c = JSON.parse(command) as Record<string, unknown>;
  change(c);
  const next = JSON.stringify(c);
  for (const r of records) {
    if (r.tag === 'Apply' && r.body.command === command) {
      r.body.command = next;
      if (typeof c.opId === 'number') r.body.opId = c.opId;
    } else if (r.tag === 'Commit' && r.body.operation === command) r.body.operation = next;
  }
}

/** The run's LeaderElected records, by term. */
export function elections(records: TraceRecord[]): TraceRecord[] {
  return records.filter((r) => r.tag === 'LeaderElected').sort((a, b) => Number(a.body.term) - Number(b.body.term));
}

/**
 * Swaps the first leader's Commit and Apply of index 1 (what they say, not where they are):
 * an Apply before its index's Commit. Returns the leader. Throws when the run lacks either.
 */
export function applyBeforeCommit(run: RunFiles): string {
  const leader = elections(run.records)[0].host;
  const own = hostRecords(run.records, leader);
  const commit = own.find((r) => r.tag === 'Commit' && r.body.index === 1);
  const apply = own.find((r) => r.tag === 'Apply' && r.body.index === 1);
  if (!commit || !apply || !(commit.clock[leader] < apply.clock[leader])) throw new Error(`${leader} has no Commit of index 1 before its Apply`);
  swapContent(commit, apply);
  return leader;
}
