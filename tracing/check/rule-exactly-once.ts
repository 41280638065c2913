import { at, describe, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * docs/TRACING.md rule 6: per server (across its lives), at most one executed Apply per
 * (clientId, opId). Applies marked `duplicate` were answered from the session table and
 * not executed, so they do not count.
 */
export function exactlyOnceRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const executed = new Map<string, TraceEvent>();
  let duplicates = 0;
  for (const host of trace.hosts()) {
    for (const a of trace.hostEvents(host)) {
      if (a.tag !== 'Apply' || a.body.clientId === undefined || a.body.clientId === null) continue;
      if (a.body.duplicate === true) {
        duplicates++;
        continue;
      }
      const key = `${host}\u0000${String(a.body.clientId)}\u0000${String(a.body.opId)}`;
      const before = executed.get(key);
      if (before) offenders.push(at(a, `${host} executes ${String(a.body.clientId)}:${String(a.body.opId)} again at index ${String(a.body.index)} (first: ${describe(before)}, index ${String(before.body.index)})`));
      else executed.set(key, a);
    }
  }
  return result('exactly-once', offenders, { note: duplicates > 0 ? `${duplicates} Apply answered retries from the session table` : undefined });
}
