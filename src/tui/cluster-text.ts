import { quorum } from '../raft/quorum.ts';
import { logSize, memorySize } from '../transport/status-format.ts';
import type { TraceInfo } from './deps.ts';
import type { ServerRow, Snapshot } from './state.ts';

/** The text of the UI's answers about the cluster: leader, status, trace, and a row's state. */

/** Who leads and how many follow, or why there is no leader (fewer answer than a majority needs). */
export function leaderText(snap: Pick<Snapshot, 'leader' | 'rows'>): string {
  const l = snap.leader;
  const answering = snap.rows.filter((r) => r.fresh).length;
  const total = snap.rows.length;
  if (!l) {
    const majority = quorum(total);
    return answering < majority
      ? `no leader: ${answering} of ${total} servers answer, and a leader needs ${majority}`
      : `no leader yet: an election is under way (${answering} of ${total} servers answer)`;
  }
  const row = snap.rows.find((r) => r.id === l.id)!;
  const agree = snap.rows.filter((r) => r.fresh && r.status?.leaderId === l.id).length;
  return `leader: ${l.id} (term ${l.term}, commit ${row.status?.commitIndex ?? '?'}); ${agree} of ${total} servers follow it`;
}

/** A table of every server; `pidOf` fills the pid of a server that did not answer. */
export function statusText(rows: readonly ServerRow[], pidOf: (id: string) => number | undefined): string {
  const head = ['server', 'addr', 'state', 'role', 'term', 'commit', 'applied', 'snap', 'log', 'mem', 'pid'];
  const body = rows.map((r) => {
    const st = r.fresh ? r.status : null;
    return [r.id, r.addr, stateLabel(r), st?.role ?? '-', st ? String(st.term) : '-', st ? String(st.commitIndex) : '-', st ? String(st.appliedIndex) : '-', st ? String(st.snapshotIndex) : '-', st ? logSize(st) : '-', st ? memorySize(st) : '-', String(st?.pid ?? pidOf(r.id) ?? '-')];
  });
  return table([head, ...body]);
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
    t.dir ? `trace files: ${t.dir}/  (shiviz.log, trace.jsonl, history.json)` : `tracing server ${t.addr}${t.note ? `: ${t.note}` : ''}`,
    `tracing server: ${t.addr}${t.clientId ? `; this UI's operations are traced as client "${t.clientId}"` : ''}`,
    'ShiViz: open https://bestchai.bitbucket.io/shiviz/, "Try out ShiViz", load shiviz.log, press "Visualize"',
  ];
  return lines.join('\n');
}

/** Columns padded to their widest cell, two spaces apart. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
