import type { HistoryEntry } from '../../tracing/history.ts';
import type { AppliedFault } from './nemesis.ts';

/** How long the cluster took to take writes again after one fault. */
export interface Recovery {
  fault: number;
  /** ms from the fault's injection to the return of the first acknowledged write called after it; null: none. */
  fromStartMs: number | null;
  /** ms from the fault's undoing (heal, restart, resume) to the return of the first acknowledged write called after that; null: none. */
  fromHealMs: number | null;
}

const WRITES = new Set(['put', 'mput', 'incr', 'delete']);

/** For each applied fault, the time to the next successful write (Jepsen's and etcd's availability measure). */
export function recoveries(faults: readonly AppliedFault[], history: readonly HistoryEntry[]): Recovery[] {
  const acked = history.filter((h) => WRITES.has(h.op.type) && h.error === undefined).sort((a, b) => a.return - b.return);
  const firstAfter = (t: number) => acked.find((h) => h.call >= t);
  return faults.map((f) => {
    const a = firstAfter(f.startedAt);
    const b = firstAfter(f.endedAt);
    return { fault: f.planned.n, fromStartMs: a ? a.return - f.startedAt : null, fromHealMs: b ? b.return - f.endedAt : null };
  });
}

/** min / median / max of the numbers (the median of an even count is the mean of the two middle ones), or null for none. */
export function spread(values: readonly number[]): { min: number; median: number; max: number } | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0], median: s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2, max: s[s.length - 1] };
}
