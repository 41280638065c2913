import type { TraceRecord } from '../../tracing/record.ts';
import { formatShiViz } from '../../tracing/shiviz.ts';
import { checkShiVizLog, type Violation } from '../../tracing/check/shiviz-rules.ts';

/** Writes records as a ShiViz log and checks that text, as ShiViz would read it. */
export function checkShiVizLogFor(records: TraceRecord[]): { violations: Violation[]; events: number } {
  return { violations: checkShiVizLog(formatShiViz(records)), events: records.length };
}
