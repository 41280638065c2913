import type { TraceRecord } from '../../tracing/record.ts';

/** Every pair (e happens before r) with e not strictly left of r, as readable strings. */
export function leftOfCause<R extends Pick<TraceRecord, 'host' | 'clock'>>(records: readonly R[], levelOf: (r: R) => number): string[] {
  const bad: string[] = [];
  for (const r of records) {
    for (const e of records) {
      if (e === r) continue;
      const own = e.clock[e.host] ?? 0;
      if ((r.clock[e.host] ?? 0) >= own && levelOf(e) >= levelOf(r)) bad.push(`${e.host}:${own} (level ${levelOf(e)}) -> ${r.host}:${r.clock[r.host]} (level ${levelOf(r)})`);
    }
  }
  return bad;
}
