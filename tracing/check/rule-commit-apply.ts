import { at, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * Not one of docs/TRACING.md's numbered rules, but implied by Raft and by the tracing (the leader records
 * Commit when an index commits; followers learn it from a traced AppendEntries): every
 * Apply of index i happens after some Commit of index i. A server that applies an entry
 * nobody committed is broken - or the message that told it was not traced, which is a
 * tracing bug of its own.
 */
export function commitBeforeApplyRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const commits = new Map<number, TraceEvent[]>();
  for (const c of trace.events({ tag: 'Commit' })) {
    const i = Number(c.body.index);
    commits.set(i, [...(commits.get(i) ?? []), c]);
  }
  let several = 0;
  for (const list of commits.values()) if (list.length > 1) several++;
  for (const a of trace.events({ tag: 'Apply' })) {
    const i = Number(a.body.index);
    const cs = commits.get(i) ?? [];
    if (cs.length === 0) offenders.push(at(a, `Apply of index ${i} on ${a.host}, but no server recorded a Commit of index ${i}`));
    else if (!cs.some((c) => trace.hb(c, a))) {
      offenders.push(at(a, `Apply of index ${i} on ${a.host} does not happen after any Commit of index ${i} (${cs.map((c) => `${c.host}:${c.clock[c.host]}`).join(', ')})`));
    }
  }
  const note = several > 0 ? `${several} indexes committed by two leaders (a new leader re-commits what it had not yet heard was committed)` : undefined;
  return result('commit-before-apply', offenders, { note });
}
