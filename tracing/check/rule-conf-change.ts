import { ConfigsInForce, ids, isJointConf, originText, sameSet, setText } from './config-in-force.ts';
import { at, describe, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * Membership changes (Raft §6) one at a time, as docs/TRACING.md describes:
 *
 * 1. A `ConfChangeProposed` of term t comes from the leader of term t (its last
 *    `LeaderElected` in that life names t).
 * 2. One at a time: a leader proposes a change only once each change it proposed before in
 *    the same term has its `ConfChangeCommitted` (recorded by it before).
 * 3. From the committed configuration: the proposal's `oldVoters` are the voters of the
 *    latest configuration committed before it (by a leader of its term or earlier; the
 *    initial one before any), a joint configuration is only ever followed by `leaveJoint`
 *    (to its C_new), and only a joint one by `leaveJoint`. A change that enters a joint
 *    configuration keeps the old voters as C_old.
 * 4. The commits agree: every `ConfChangeCommitted` at an index names the same
 *    configuration, the one its `ConfChangeProposed` (same index and term) made.
 * 5. A leader that a committed C_new leaves out stops leading: after that
 *    `ConfChangeCommitted` (and the `Commit`s recorded with it) it records no `Commit`,
 *    `ConfChangeCommitted`, `ConfChangeProposed`, `LeaderTransfer` or `TimeoutNow` until it
 *    is elected again (the election rule then requires it to be a voter again).
 *
 * Each part holds for a correct run whatever the scheduling: a leader learns that a
 * change committed either by committing it or from a traced AppendEntries that carries
 * the new commit index (see Heartbeats), so that commit happened before its next proposal.
 */
export function confChangeRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const configs = new ConfigsInForce(trace);
  const committedOn = (host: string) => trace.events({ tag: 'ConfChangeCommitted', host });

  for (const x of configs.proposed) {
    const term = Number(x.body.term);
    const index = Number(x.body.index);
    const leaderTerm = configs.leaderTermAt(x);
    if (leaderTerm !== term) {
      offenders.push(at(x, `${describe(x)} proposed index ${index} of term ${term}, but ${x.host} ${leaderTerm === null ? 'had not been elected in this life' : `was leader of term ${leaderTerm}`}`));
      continue;
    }
    // 2. One at a time on this leader.
    const mine = trace.hostEvents(x.host).filter((y) => y.tag === 'ConfChangeProposed' && trace.counter(y) < trace.counter(x) && configs.leaderTermAt(y) === term && Number(y.body.term) === term);
    const pending = mine.filter((y) => !committedOn(x.host).some((c) => Number(c.body.index) === Number(y.body.index) && trace.counter(c) < trace.counter(x)));
    if (pending.length > 0) {
      const y = pending[pending.length - 1];
      offenders.push(at(x, `${describe(x)} proposed '${String(x.body.change)}' at index ${index} while its change at index ${String(y.body.index)} ('${String(y.body.change)}', ${describe(y)}) was not committed: one change at a time`));
      continue;
    }
    // 3. From the latest committed configuration.
    const base = configs.latestCommitted(x, term, { inclusive: true });
    const old = ids(x.body.oldVoters);
    const newVoters = ids(x.body.newVoters);
    const outgoing = ids(x.body.votersOutgoing);
    const leaving = x.body.change === 'leaveJoint';
    const baseText = `${setText(base.voters)}${isJointConf(base) ? ` and ${setText(base.votersOutgoing)} (joint)` : ''}, ${originText(base, configs.initialSource)}`;
    if (index <= base.index) offenders.push(at(x, `${describe(x)} proposed index ${index}, at or below the committed config entry at index ${base.index} (${describe(base.event!)})`));
    if (!sameSet(old, base.voters)) {
      offenders.push(at(x, `${describe(x)} changes voters ${setText(old)}, but the configuration committed last is ${baseText}`));
    } else if (isJointConf(base) && (!leaving || !sameSet(newVoters, base.voters) || outgoing.length > 0)) {
      offenders.push(at(x, `${describe(x)} proposed '${String(x.body.change)}' (voters ${setText(newVoters)}${outgoing.length ? ` and ${setText(outgoing)}` : ''}) while the joint configuration ${baseText} was not left: leaveJoint to ${setText(base.voters)} comes first`));
    } else if (!isJointConf(base) && leaving) {
      offenders.push(at(x, `${describe(x)} proposed leaveJoint, but the configuration committed last is not joint: ${baseText}`));
    } else if (!leaving && outgoing.length > 0 && !sameSet(outgoing, old)) {
      offenders.push(at(x, `${describe(x)} enters a joint configuration whose C_old ${setText(outgoing)} is not the voters before it ${setText(old)}`));
    }
  }

  // 4. The commits agree with each other and with their proposal.
  const firstAt = new Map<number, TraceEvent>();
  for (const c of configs.committed) {
    const index = Number(c.body.index);
    const first = firstAt.get(index);
    if (!first) firstAt.set(index, c);
    else if (confText(c, 'voters') !== confText(first, 'voters')) {
      offenders.push(at(c, `${describe(c)} commits ${confText(c, 'voters')} at index ${index}, but ${describe(first)} committed ${confText(first, 'voters')} there`));
      continue;
    }
    const proposal = configs.proposed.find((p) => Number(p.body.index) === index && Number(p.body.term) === Number(c.body.term));
    if (proposal && confText(proposal, 'newVoters') !== confText(c, 'voters')) {
      offenders.push(at(c, `${describe(c)} commits ${confText(c, 'voters')} at index ${index}, but ${describe(proposal)} proposed ${confText(proposal, 'newVoters')}`));
    }
  }

  // 5. A leader left out of a committed C_new stops leading.
  const LEADING = new Set(['Commit', 'ConfChangeCommitted', 'ConfChangeProposed', 'LeaderTransfer', 'TimeoutNow']);
  for (const c of configs.committed) {
    if (ids(c.body.votersOutgoing).length > 0 || ids(c.body.voters).includes(c.host)) continue;
    const after = trace.hostEvents(c.host).filter((e) => trace.counter(e) > trace.counter(c));
    let batch = true;
    for (const e of after) {
      if (e.tag === 'LeaderElected') break;
      // The Commits recorded with it (one commit advance) are the last it makes.
      if (batch && (e.tag === 'Commit' || e.tag === 'ConfChangeCommitted')) continue;
      batch = false;
      if (LEADING.has(e.tag)) {
        offenders.push(at(e, `${describe(e)}: ${c.host} acts as leader after ${describe(c)} committed voters ${setText(ids(c.body.voters))} without it`));
        break;
      }
    }
  }

  const note = `${configs.proposed.length} configuration change${configs.proposed.length === 1 ? '' : 's'} proposed, ${configs.committed.length} committed; initial voters ${setText(configs.initial.voters)} (${configs.initialSource})`;
  return result('conf-change', offenders, { note });
}

/** `{a,b,c}` or `{a,b,c} and {a,b} (joint)`, plus learners: a configuration as a body states it. */
function confText(e: TraceEvent, votersField: 'voters' | 'newVoters'): string {
  const out = ids(e.body.votersOutgoing);
  const learners = ids(e.body.learners);
  return `${setText(ids(e.body[votersField]))}${out.length ? ` and ${setText(out)} (joint)` : ''}${learners.length ? ` learners ${setText(learners)}` : ''}`;
}
