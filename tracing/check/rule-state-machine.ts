import { at, describe, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * docs/TRACING.md rule 3: no two Apply (on any servers, in any lives) name different commands at
 * one index, and the Commit of an index names the same command as its Applies; per server,
 * in its own order and across restarts, Apply indexes go 1, 2, 3, ... with no gap and no
 * repeat (a host whose first Apply in the trace is above 1 is noted, not failed).
 *
 * Snapshots (Raft §7) are the one way a state machine moves other than by an Apply: after
 * `SnapshotRestored {index}` the next Apply is index + 1, and the indexes the snapshot
 * covers are never applied on that server. A state machine never goes back, so a restore
 * below what the server already holds is an offender, except the first restore of a life
 * (a restart loading its own snapshot, which then replays silently up to its last traced
 * Apply, so only a restore above that moves the expected next Apply). A `SnapshotTaken`
 * can only cover what the state machine holds: its index is at most the last applied.
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
    const events = trace.hostEvents(host).filter((e) => STEPS.has(e.tag));
    if (!events.some((e) => e.tag === 'Apply' || e.tag === 'SnapshotRestored')) continue;
    // The last index the state machine holds (null until the trace shows one), and the
    // restore that put it there when the last step was one (named in messages).
    let held: number | null = null;
    let restoredBy: TraceEvent | null = null;
    // No Apply or restore yet in this life: a restore may load an older snapshot of its own.
    let freshLife = true;
    for (const e of events) {
      const index = Number(e.body.index);
      if (e.tag === 'ServerStart') {
        // A restart rebuilds the state machine silently up to its last traced Apply: `held` stays.
        freshLife = true;
        continue;
      }
      // Reported above for Apply, by snapshot-safety for snapshots.
      if (!Number.isInteger(index) || index < 1) continue;
      if (e.tag === 'SnapshotTaken') {
        if (held !== null && index > held) offenders.push(at(e, `${host} takes a snapshot of index ${index}, but its state machine holds only up to ${held}`));
        continue;
      }
      if (e.tag === 'SnapshotRestored') {
        if (held === null || index >= held) {
          held = index;
          restoredBy = e;
        } else if (!freshLife) {
          offenders.push(at(e, `${host} restores a snapshot of index ${index} after applying up to ${held}: a state machine never goes back`));
        }
        // else: a restart loading its own older snapshot; it replays up to `held` silently.
        freshLife = false;
        continue;
      }
      // Apply
      if (held === null) {
        if (index !== 1) notes.push(`${host}'s first Apply in the trace is index ${index}`);
      } else if (index !== held + 1) {
        const after = restoredBy ? ` (after ${describe(restoredBy)} of index ${held})` : '';
        offenders.push(at(e, index <= held ? `${host} applies index ${index} again (expected ${held + 1})${after}` : `${host} skips from ${held} to ${index}${after}`));
      }
      held = index;
      restoredBy = null;
      freshLife = false;
    }
  }
  return result('state-machine-safety', offenders, { note: notes.join('; ') || undefined });
}

/** What moves a server's state machine, or tells where it stands. */
const STEPS = new Set(['ServerStart', 'Apply', 'SnapshotRestored', 'SnapshotTaken']);

function short(command: unknown): string {
  const s = typeof command === 'string' ? command : JSON.stringify(command);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
