import { at, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * Not one of docs/TRACING.md's numbered rules, but implied by Raft and by the tracing (the leader records
 * Commit when an index commits; followers learn it from a traced AppendEntries): every
 * Apply of index i happens after some Commit of index i. A server that applies an entry
 * nobody committed is broken - or the message that told it was not traced, which is a
 * tracing bug of its own.
 *
 * One exception: a run over an earlier run's data (`raftkv cluster up` again). A server
 * whose disk says entries were committed applies them as it starts, before it hears from
 * anyone, and their Commits were recorded in the earlier run's trace. So an Apply in a
 * server's first life in the trace, before it received anything in it (its clock names no
 * other host), is counted in the note instead, unless meta.json says the run began with
 * empty data (`existingData: false`), where such an Apply cannot be right.
 *
 * And, on such a run, an index whose Commit is in no trace at all, applied after a leader's
 * Commit of a later index: committing index j commits every index below it (Raft §5.3), so
 * the leader held it committed already, from the earlier run (its disk said so: a snapshot
 * or commit index past it), and a follower whose disk lagged applies it once it hears the
 * leader's commit index. Counted in the note too.
 *
 * And, on such a run, an Apply of index i after a `RaftStart` whose `commitIndex` (what that
 * server recovered from its disk) is at least i, in that server's first life in the trace:
 * its disk held i committed before this trace began, and it passed that on (a leader's
 * heartbeat carries its commit index before it commits anything in its own term). A first
 * life's commit index comes from no message of this run, so an index committed in the run
 * is not covered by it. Counted in the note too.
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
  const firstLives = new Map(trace.hosts().map((h) => [h, new Set(trace.lives(h)[0] ?? [])]));
  const oldDataPossible = trace.meta?.existingData !== false;
  // The RaftStart of each host's first life, with the commit index it recovered from disk.
  const recovered = oldDataPossible
    ? trace.events({ tag: 'RaftStart' }).filter((s) => firstLives.get(s.host)?.has(s) && Number(s.body.commitIndex) > 0)
    : [];
  let replayed = 0;
  let knownAtStart = 0;
  let coveredByLater = 0;
  for (const a of trace.events({ tag: 'Apply' })) {
    const i = Number(a.body.index);
    const cs = commits.get(i) ?? [];
    if (oldDataPossible && firstLives.get(a.host)?.has(a) && Object.keys(a.clock).every((h) => h === a.host || !a.clock[h])) {
      if (!cs.some((c) => trace.hb(c, a))) replayed++;
      continue;
    }
    if (!cs.some((c) => trace.hb(c, a)) && recovered.some((s) => Number(s.body.commitIndex) >= i && (s.host === a.host || trace.hb(s, a)))) {
      knownAtStart++;
      continue;
    }
    if (cs.length === 0) {
      if (oldDataPossible && [...commits].some(([j, later]) => j > i && later.some((c) => trace.hb(c, a)))) coveredByLater++;
      else offenders.push(at(a, `Apply of index ${i} on ${a.host}, but no server recorded a Commit of index ${i}`));
    }
    else if (!cs.some((c) => trace.hb(c, a))) {
      offenders.push(at(a, `Apply of index ${i} on ${a.host} does not happen after any Commit of index ${i} (${cs.map((c) => `${c.host}:${c.clock[c.host]}`).join(', ')})`));
    }
  }
  const notes: string[] = [];
  if (several > 0) notes.push(`${several} indexes committed by two leaders (a new leader re-commits what it had not yet heard was committed)`);
  if (replayed > 0) notes.push(`${replayed} Applies at a server's start, before it heard from anyone: entries its disk says were committed before this trace began`);
  if (coveredByLater > 0) notes.push(`${coveredByLater} Applies of indexes no Commit in this trace names, after a leader's Commit of a later index: committed before this trace began`);
  if (knownAtStart > 0) notes.push(`${knownAtStart} Applies of indexes a server recovered as committed at its start (RaftStart commitIndex), before this trace began`);
  return result('commit-before-apply', offenders, { note: notes.join('; ') || undefined });
}
