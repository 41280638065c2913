import { at, describe, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * What a snapshot stands for (Raft §7): a snapshot of index i and term t replaces the log's
 * entries 1..i, so it must agree with what the log shows of them, and may only hold
 * committed entries (a state machine applies nothing else, and a follower that installs
 * an uncommitted prefix could lose it to a new leader, breaking State Machine Safety).
 *
 * For every `SnapshotTaken`, `SnapshotRestored` {index, term} and every snapshot the leader
 * sends (`InstallSnapshot` {index, snapshotTerm}):
 * - index and term are integers >= 1;
 * - term is the term every `Commit` and `Apply` of that index names; at an index no Commit
 *   or Apply shows, all snapshots of it name the same term;
 * - index is committed: a `Commit` of that index or beyond happens before it (the leader's
 *   own, or one the server heard of), or, failing that, one exists somewhere in the trace
 *   (the trace does not show how the server learned it, e.g. a restart whose trace lost
 *   the tail that knew of it; counted in the note, as commit-before-apply judges the
 *   Applies the snapshot was taken from). A Commit of
 *   j >= i commits i too: leaders commit in index order.
 *
 * State machine order (restores and Applies per server) is rule 3's business; the
 * InstallSnapshot exchange is the install-snapshot rule's.
 */
export function snapshotSafetyRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const snapshots = trace.events({ tag: SNAPSHOT_TAGS }).map((e) => ({ e, ...positionOf(e) }));
  const logAt = new Map<number, TraceEvent[]>();
  for (const e of trace.events({ tag: ['Commit', 'Apply'] })) {
    const index = Number(e.body.index);
    logAt.set(index, [...(logAt.get(index) ?? []), e]);
  }
  const commits = trace.events({ tag: 'Commit' }).filter((c) => Number.isInteger(Number(c.body.index)));
  const highestCommit = Math.max(0, ...commits.map((c) => Number(c.body.index)));
  let unknownCommit = 0;

  for (const { e, index, term } of snapshots) {
    if (!Number.isInteger(index) || index < 1 || !Number.isInteger(term) || term < 1) {
      offenders.push(at(e, `${e.tag} with index ${JSON.stringify(e.body.index)} and term ${JSON.stringify(e.tag === 'InstallSnapshot' ? e.body.snapshotTerm : e.body.term)}`));
      continue;
    }
    const logged = logAt.get(index);
    if (logged) {
      const other = logged.find((l) => Number(l.body.term) !== term);
      if (other) offenders.push(at(e, `${e.tag} of index ${index} says term ${term}, but ${describe(other)} has term ${String(other.body.term)} at index ${index}`));
    } else {
      // No entry of the index is in the trace: the snapshots must at least agree among themselves.
      const firstSnapshot = snapshots.find((s) => s.index === index)!;
      if (firstSnapshot.term !== term) {
        offenders.push(at(e, `${e.tag} of index ${index} says term ${term}, but ${describe(firstSnapshot.e)} says term ${firstSnapshot.term}`));
      }
    }
    if (commits.some((c) => Number(c.body.index) >= index && trace.hb(c, e))) continue;
    if (highestCommit >= index) unknownCommit++;
    else offenders.push(at(e, `${e.tag} of index ${index}, which was never committed: no server recorded a Commit of index ${index} or beyond (highest: ${highestCommit})`));
  }

  const counts = SNAPSHOT_TAGS.map((t) => `${snapshots.filter((s) => s.e.tag === t).length} ${t}`).join(', ');
  const note = `${counts}${unknownCommit > 0 ? `; ${unknownCommit} at indexes committed by a Commit that does not happen before them (the trace does not show how the server learned it: e.g. a restart that lost its trace's tail)` : ''}`;
  return result('snapshot-safety', offenders, { note });
}

const SNAPSHOT_TAGS = ['SnapshotTaken', 'SnapshotRestored', 'InstallSnapshot'];

/** A snapshot event's position: the leader's send names the term `snapshotTerm` (its `term` is the leader's). */
function positionOf(e: TraceEvent): { index: number; term: number } {
  return { index: Number(e.body.index), term: Number(e.tag === 'InstallSnapshot' ? e.body.snapshotTerm : e.body.term) };
}
