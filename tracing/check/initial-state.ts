import { parseCommand } from './command.ts';
import { describe, type Trace, type TraceEvent } from './trace.ts';

/**
 * What the keys held before a run's history began, for the linearizability check. A run
 * that starts from empty data starts every key absent; one that starts over data an earlier
 * run left (`raftkv cluster up` twice on one data directory) does not, and checking it from
 * empty would fail a correct run whose first read sees an old value.
 *
 * The trace shows what the run started over: servers record an `Apply` of every entry they
 * apply, the entries of earlier runs too, and a leader a `Commit` of every entry it commits.
 *
 * - A command in an `Apply` or `Commit` whose operation has no Start in this trace (and no
 *   history entry) was written by a client outside this run's history: an earlier run, or
 *   a client that traces nowhere. The keys it writes have an unknown initial value (any one
 *   value, linearizability.ts); a key it sets to expire is not checked at all (its value
 *   changes with time).
 * - An index up to the highest any server's state machine reached (`Apply`,
 *   `SnapshotRestored`, `SnapshotTaken`, `InstallSnapshot`) whose command appears in no
 *   `Apply` or `Commit` was in a log or snapshot before the trace began: what it wrote is
 *   unknown, so every key's initial value is. meta.json's `existingData: false` (the run
 *   began with empty data directories) overrules this: such gaps are then only noted.
 *
 * meta.json's `existingData: true` alone changes nothing: the trace says which keys the old
 * data touched (a log replayed from index 1 shows every old command).
 */
export interface InitialState {
  /** Keys whose value before the history is unknown; `'all'` when the trace cannot tell which. */
  unknown: 'all' | Set<string>;
  /** Keys an operation from outside the history set to expire: not checked. */
  skip: Set<string>;
  /** Why, for the rule's note (empty when every key starts absent). */
  reasons: string[];
}

/** Works out the initial state of a run's keys from its trace and meta.json (see above). */
export function initialState(trace: Trace): InitialState {
  const ours = new Set<string>(trace.events({ tag: ['GetStart', 'PutStart'] }).map((e) => e.traceId));
  for (const h of trace.history ?? []) ours.add(`${h.clientId}:${h.opId}`);
  const unknown = new Set<string>();
  const skip = new Set<string>();
  const reasons: string[] = [];
  const seen = new Set<number>();
  const foreign = new Map<string, TraceEvent>();
  let reached = 0;
  let reachedBy: TraceEvent | null = null;
  for (const e of trace.events({ tag: ['Apply', 'Commit', 'SnapshotRestored', 'SnapshotTaken', 'InstallSnapshot'] })) {
    const index = Number(e.body.index);
    if (!Number.isSafeInteger(index) || index < 1) continue; // state-machine-safety reports it
    if (index > reached) {
      reached = index;
      reachedBy = e;
    }
    if (e.tag !== 'Apply' && e.tag !== 'Commit') continue;
    seen.add(index);
    const command = parseCommand(e.tag === 'Apply' ? e.body.command : e.body.operation);
    if (!command || ours.has(command.id)) continue;
    if (!foreign.has(command.id)) foreign.set(command.id, e);
    for (const key of command.writes) unknown.add(key);
    for (const key of command.expires) skip.add(key);
  }
  if (foreign.size > 0) {
    const [id, e] = [...foreign][0];
    const keys = [...unknown].sort();
    reasons.push(
      `initial values unknown for ${keys.length} key${keys.length === 1 ? '' : 's'} (${keys.join(', ')}): written by ${foreign.size} operation${foreign.size === 1 ? '' : 's'} with no Start in this trace (from an earlier run or an untraced client), e.g. ${id} (${describe(e)})`,
    );
  }
  if (skip.size > 0) reasons.push(`skipped keys an operation outside the history set to expire: ${[...skip].sort().join(', ')}`);
  let missing = 0;
  let firstMissing = 0;
  for (let i = reached; i >= 1; i--) {
    if (seen.has(i)) continue;
    missing++;
    firstMissing = i;
  }
  if (missing > 0 && reachedBy) {
    const what = `${missing} of indexes 1..${reached} (from ${firstMissing}) show their command in no Apply or Commit, though ${describe(reachedBy)} reached ${reached}`;
    if (trace.meta?.existingData === false) reasons.push(`${what}; meta.json says the run began with empty data, so keys start absent`);
    else {
      reasons.push(`initial values unknown for every key: ${what}: the run started over data from before its trace`);
      return { unknown: 'all', skip, reasons };
    }
  }
  return { unknown, skip, reasons };
}
