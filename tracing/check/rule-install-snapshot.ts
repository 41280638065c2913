import { at, describe, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * The InstallSnapshot exchange (Raft §7), as the core traces it (docs/TRACING.md):
 *
 * - every `InstallSnapshotRecv` on H has its `InstallSnapshot` (from its leaderId to H,
 *   same term, index and snapshotTerm) happening before it, and every
 *   `InstallSnapshotResRecv` on L its `InstallSnapshotRes` (from its serverId to L, same
 *   fields); no other rule pairs Raft messages, and a receive without its send means a
 *   message the log cannot explain;
 * - an `InstallSnapshotRes` with success on H for index i answers an `InstallSnapshotRecv`
 *   of index i before it on H, and H really holds what it claims: it had already reached i
 *   (an Apply, restore or snapshot of i or beyond), or its log held entry i of the
 *   snapshot's term (an AppendEntries carrying it that H accepted, or H led that term, or
 *   committed i: §7's fast-forward, where the follower keeps its log), or it restores a
 *   snapshot of i or beyond after the answer, before any other Apply (in this life or,
 *   after a crash, at the next start). The core records the answer when it decides,
 *   before the driver restores the state machine, so the restore follows the answer in H's
 *   order. When H's life (or the trace) ends after the answer before its state machine
 *   moves again, there is nothing to judge: that is only noted.
 */
export function installSnapshotRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const same = (a: TraceEvent, b: TraceEvent, fields: string[]) => fields.every((f) => a.body[f] === b.body[f]);

  const sends = trace.events({ tag: 'InstallSnapshot' });
  for (const r of trace.events({ tag: 'InstallSnapshotRecv' })) {
    const from = String(r.body.leaderId);
    if (r.body.to !== r.host) offenders.push(at(r, `InstallSnapshotRecv on ${r.host} is addressed to ${String(r.body.to)}`));
    else if (!sends.some((s) => s.host === from && s.body.to === r.host && same(s, r, ['term', 'index', 'snapshotTerm']) && trace.hb(s, r))) {
      offenders.push(at(r, `InstallSnapshotRecv on ${r.host} (term ${String(r.body.term)}, snapshot ${String(r.body.index)} of term ${String(r.body.snapshotTerm)}): no InstallSnapshot of it from ${from} to ${r.host} happens before it`));
    }
  }
  const answers = trace.events({ tag: 'InstallSnapshotRes' });
  const answerRecvs = trace.events({ tag: 'InstallSnapshotResRecv' });
  for (const rr of answerRecvs) {
    const from = String(rr.body.serverId);
    if (rr.body.to !== rr.host) offenders.push(at(rr, `InstallSnapshotResRecv on ${rr.host} is addressed to ${String(rr.body.to)}`));
    else if (!answers.some((a) => a.host === from && a.body.to === rr.host && same(a, rr, ['term', 'index', 'success', 'matchIndex']) && trace.hb(a, rr))) {
      offenders.push(at(rr, `InstallSnapshotResRecv on ${rr.host} (snapshot ${String(rr.body.index)}, success ${String(rr.body.success)}): no InstallSnapshotRes of it from ${from} to ${rr.host} happens before it`));
    }
  }

  const count = { restored: 0, held: 0, unconfirmed: 0 };
  for (const host of trace.serverHosts()) {
    const own = trace.hostEvents(host);
    own.forEach((res, k) => {
      if (res.tag !== 'InstallSnapshotRes' || res.body.success !== true) return;
      const i = Number(res.body.index);
      const before = own.slice(0, k);
      const recv = before.findLast((e) => e.tag === 'InstallSnapshotRecv' && Number(e.body.index) === i);
      if (!recv) {
        offenders.push(at(res, `InstallSnapshotRes of snapshot ${i} on ${host}, but ${host} received no InstallSnapshot of index ${i} before it`));
        return;
      }
      const t = Number(recv.body.snapshotTerm);
      const after = own.slice(k + 1);
      // The restore that installs it is the state machine's next move (across a restart too).
      const nextMove = after.find((e) => e.tag === 'SnapshotRestored' || e.tag === 'Apply');
      const lifeEnd = after.find((e) => e.tag === 'ServerStart');
      if (nextMove?.tag === 'SnapshotRestored' && Number(nextMove.body.index) >= i) count.restored++;
      else if (before.some((e, j) => reached(e, i) || heldEntry(e, own[j + 1], i, t))) count.held++;
      else if (!nextMove || (lifeEnd && trace.counter(lifeEnd) < trace.counter(nextMove))) count.unconfirmed++;
      else {
        offenders.push(
          at(res, `${host} answers ${describe(recv)} (snapshot ${i} of term ${t}) with success, but it neither held index ${i} before (no Apply, restore or snapshot of it, no accepted AppendEntries carrying it) nor restores a snapshot of index ${i} or beyond after it, before its next Apply`),
        );
      }
    });
  }
  const total = count.restored + count.held + count.unconfirmed;
  const note = `${sends.length} InstallSnapshot sent; ${total} answered with success: ${count.restored} restored, ${count.held} already held the snapshot's last entry${count.unconfirmed > 0 ? `, ${count.unconfirmed} whose life or trace ended before the state machine moved again` : ''}`;
  return result('install-snapshot', offenders, { note });
}

/** The state machine reached index i: applied it, restored or took a snapshot of it or beyond. */
function reached(e: TraceEvent, i: number): boolean {
  return (e.tag === 'Apply' || e.tag === 'SnapshotRestored' || e.tag === 'SnapshotTaken') && Number(e.body.index) >= i;
}

/**
 * The log held entry i of term t (so InstallSnapshot fast-forwards): an AppendEntries
 * carrying it that the server accepted (the core records its answer as the next action),
 * or the server led term t (only its leader creates a term's entries, and a committed one
 * is never removed), or it committed i or beyond as leader.
 */
function heldEntry(e: TraceEvent, next: TraceEvent | undefined, i: number, t: number): boolean {
  if (e.tag === 'AppendEntriesRecv') {
    const entries = Array.isArray(e.body.entries) ? (e.body.entries as { index?: unknown; term?: unknown }[]) : [];
    return entries.some((x) => Number(x.index) === i && Number(x.term) === t) && next?.tag === 'AppendEntriesRes' && next.body.success === true;
  }
  if (e.tag === 'LeaderElected') return Number(e.body.term) === t;
  return e.tag === 'Commit' && Number(e.body.index) >= i;
}

