import { serializeClock } from '../clock.ts';
import { parseShiViz } from '../shiviz.ts';
import { checkShiViz } from './shiviz-rules.ts';
import { at, nowhere, result, type Offender, type RuleResult, type Trace } from './trace.ts';

/**
 * shiviz.log passes ShiViz's strict mode (checkShiViz), and it holds the same events as
 * trace.jsonl, so what people look at is what the other rules checked.
 */
export function shivizRule(trace: Trace): RuleResult {
  const text = trace.run.shiviz;
  if (text === null) return result('shiviz', [nowhere('shiviz.log', 'shiviz.log is missing')]);
  const { events, errors } = parseShiViz(text);
  // Offender lines are trace.jsonl lines everywhere; the shiviz.log line goes in the message.
  const jsonlLine = new Map(trace.records.map((r) => [`${r.host} ${serializeClock(r.clock)}`, r.line]));
  const offenders: Offender[] = [
    ...errors.map((e) => ({ host: 'shiviz.log', clock: null, line: null, message: `shiviz.log line ${e.line}: ${e.message}` })),
    ...checkShiViz(events).map((v) => ({
      host: v.host ?? 'shiviz.log',
      clock: v.clock ?? null,
      line: v.host && v.clock ? (jsonlLine.get(`${v.host} ${serializeClock(v.clock)}`) ?? null) : null,
      message: `${v.rule}: ${v.message} (shiviz.log line ${v.line ?? '?'})`,
    })),
  ];

  // Same events in both files: match on host, clock and tag.
  const key = (host: string, clock: Record<string, number>, tag: string) => `${host} ${serializeClock(clock)} ${tag}`;
  const inShiviz = new Map<string, number>();
  for (const e of events) inShiviz.set(key(e.host, e.clock, e.tag), (inShiviz.get(key(e.host, e.clock, e.tag)) ?? 0) + 1);
  for (const r of trace.records) {
    const k = key(r.host, r.clock, r.tag);
    const n = inShiviz.get(k) ?? 0;
    if (n === 0) offenders.push(at(r, `${r.tag} is in trace.jsonl but not in shiviz.log`));
    else inShiviz.set(k, n - 1);
  }
  for (const e of events) {
    const k = key(e.host, e.clock, e.tag);
    const n = inShiviz.get(k) ?? 0;
    if (n > 0) {
      offenders.push({ host: e.host, clock: e.clock, line: null, message: `${e.tag} at shiviz.log line ${e.line} is not in trace.jsonl` });
      inShiviz.set(k, n - 1);
    }
  }
  return result('shiviz', offenders);
}
