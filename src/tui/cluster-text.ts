import { quorum } from '../raft/quorum.ts';
import { logSize, memorySize } from '../transport/status-format.ts';
import type { TraceInfo } from './deps.ts';
import type { ServerRow, Snapshot } from './state.ts';

/** The text of the UI's answers about the cluster: leader, status, trace, and a row's state. */

/** Who leads and how many follow, or why there is no leader (fewer answer than a majority needs). */
export function leaderText(snap: Pick<Snapshot, 'leader' | 'rows'>): string {
  const l = snap.leader;
  // Once the membership is known only voters count: learners never vote, and a removed
  // server is out of the configuration.
  const voters = snap.rows.filter(isVoter);
  const answering = voters.filter((r) => r.fresh).length;
  const total = voters.length;
  if (!l) {
    const majority = quorum(total);
    return answering < majority
      ? `no leader: ${answering} of ${total} servers answer, and a leader needs ${majority}`
      : `no leader yet: an election is under way (${answering} of ${total} servers answer)`;
  }
  const row = snap.rows.find((r) => r.id === l.id)!;
  const agree = voters.filter((r) => r.fresh && r.status?.leaderId === l.id).length;
  return `leader: ${l.id} (term ${l.term}, commit ${row.status?.commitIndex ?? '?'}); ${agree} of ${total} servers follow it`;
}

/** A row counts as a voter when the membership says so, or when no membership is known yet. */
export function isVoter(r: ServerRow): boolean {
  return r.member === undefined || r.member.kind === 'voter';
}

/**
 * The role column: the Raft role, or the row's place in the configuration when that says
 * more: "learner 80%" (its match index against the leader's last index), "removed", and
 * "(old)" after a voter of C_old while the configuration is joint.
 */
export function roleCell(r: ServerRow): string {
  const role = r.fresh && r.status ? r.status.role : '-';
  switch (r.member?.kind) {
    case 'removed':
      return 'removed';
    case 'learner':
      return r.member.progress === null ? 'learner' : `learner ${r.member.progress}%`;
    case 'voter':
      return r.member.outgoing ? `${role} (old)` : role;
    default:
      return role;
  }
}

/**
 * A table of every server; `pidOf` fills the pid of a server that did not answer. With a
 * joint configuration a first line says so.
 */
export function statusText(rows: readonly ServerRow[], pidOf: (id: string) => number | undefined, joint = false): string {
  const head = ['server', 'addr', 'state', 'role', 'term', 'commit', 'applied', 'snap', 'log', 'mem', 'pid'];
  const body = rows.map((r) => {
    const st = r.fresh ? r.status : null;
    return [r.id, r.addr, stateLabel(r), roleCell(r), st ? String(st.term) : '-', st ? String(st.commitIndex) : '-', st ? String(st.appliedIndex) : '-', st ? String(st.snapshotIndex) : '-', st ? logSize(st) : '-', st ? memorySize(st) : '-', String(st?.pid ?? pidOf(r.id) ?? '-')];
  });
  const text = table([head, ...body]);
  return joint ? `joint (C_old,new): a decision needs a majority of the old voters and of the new\n${text}` : text;
}

/** up / down / paused / partitioned / cut from N / starting / no answer. */
export function stateLabel(r: ServerRow): string {
  if (r.liveness !== 'up') return r.liveness;
  const peers = r.status?.peers.length ?? 0;
  if (r.blocked.length > 0 && r.blocked.length >= peers) return 'partitioned';
  if (r.blocked.length === 1) return `up, cut from ${r.blocked[0]}`;
  if (r.blocked.length > 1) return `up, cut from ${r.blocked.length}`;
  return 'up';
}

/** Where the trace files are and how to look at them. */
export function traceText(t: TraceInfo): string {
  if (!t.addr) return `this cluster traces nowhere (its config has no traceServer)${t.note ? `: ${t.note}` : ''}`;
  const lines = [
    t.dir ? `trace files: ${t.dir}/  (shiviz.log, trace.jsonl, history.jsonl; history.json once stopped)` : `tracing server ${t.addr}${t.note ? `: ${t.note}` : ''}`,
    `tracing server: ${t.addr}${t.clientId ? `; this UI's operations are traced as client "${t.clientId}"` : ''}`,
    'ShiViz: open https://bestchai.bitbucket.io/shiviz/, "Try out ShiViz", load shiviz.log, press "Visualize"',
    `too many events for ShiViz? slice: npx raftkv trace slice ${t.dir ?? '<runDir>'} --trace-id ${t.clientId ?? '<clientId>'}:1 (or --hosts, --tags, --from/--to, --max-events) -> slice.log`,
  ];
  return lines.join('\n');
}

/** Columns padded to their widest cell, two spaces apart. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
