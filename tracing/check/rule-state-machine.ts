import { at, describe, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * docs/TRACING.md rule 3: no two Apply (on any servers, in any lives) name different commands at
 * one index, and the Commit of an index names the same command as its Applies; per server,
 * in its own order and across restarts, Apply indexes go 1, 2, 3, ... with no gap and no
 * repeat (a host whose first Apply in the trace is above 1 is noted, not failed).
 */
export function stateMachineSafetyRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const notes: string[] = [];
  const first = new Map<number, TraceEvent>();
  for (const e of trace.events({ tag: ['Apply', 'Commit'] })) {
    const index = Number(e.body.index);
    const command = e.tag === 'Apply' ? e.body.command : e.body.operation;
    if (!Number.isInteger(index) || index < 1) {
      offenders.push(at(e, `${e.tag} with index ${JSON.stringify(e.body.index)}`));
      continue;
    }
    const seen = first.get(index);
    if (!seen) first.set(index, e);
    else {
      const before = seen.tag === 'Apply' ? seen.body.command : seen.body.operation;
      if (before !== command) {
        offenders.push(at(e, `${e.tag} of index ${index} names ${short(command)} (term ${String(e.body.term)}), but ${describe(seen)} names ${short(before)} (term ${String(seen.body.term)})`));
      }
    }
  }

  for (const host of trace.hosts()) {
    const applies = trace.hostEvents(host).filter((e) => e.tag === 'Apply');
    if (applies.length === 0) continue;
    let expected = Number(applies[0].body.index);
    if (expected !== 1) notes.push(`${host}'s first Apply in the trace is index ${expected}`);
    for (const a of applies) {
      const index = Number(a.body.index);
      if (index !== expected) {
        offenders.push(at(a, index < expected ? `${host} applies index ${index} again (expected ${expected})` : `${host} skips from ${expected - 1} to ${index}`));
      }
      expected = index + 1;
    }
  }
  return result('state-machine-safety', offenders, { note: notes.join('; ') || undefined });
}

function short(command: unknown): string {
  const s = typeof command === 'string' ? command : JSON.stringify(command);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
