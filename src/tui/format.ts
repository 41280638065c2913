import { logEntries } from '../transport/status-format.ts';
import { roleCell, stateLabel } from './cluster-text.ts';
import type { ResultEntry, ServerRow } from './state.ts';

/** Pure text layout shared by the ink screen and the plain line mode. */

export type Tone = 'normal' | 'dim' | 'red' | 'yellow' | 'green' | 'cyan' | 'magenta';

export interface Line {
  text: string;
  tone: Tone;
  bold?: boolean;
}

function formatContact(row: ServerRow): string {
  const st = row.status;
  if (!row.fresh || !st) return '-';
  if (st.role === 'leader') return '-';
  const ms = st.lastContactMs;
  if (!Number.isFinite(ms) || ms < 0 || ms > 1e11) return 'never';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m`;
}

const PANEL_COLUMNS = [
  { title: '', width: 2 },
  { title: 'server', width: 10 },
  // Wide enough for "follower (old)" (a voter of C_old while joint) and "learner 100%";
  // snap gave up a column for it, so that a row still fits 80 columns.
  { title: 'role', width: 14 },
  { title: 'term', width: 5, right: true },
  { title: 'commit', width: 7, right: true },
  { title: 'applied', width: 8, right: true },
  { title: 'snap', width: 6, right: true },
  // log and the gap before state are narrow so that state keeps 8 columns at 80 wide.
  { title: 'log', width: 6, right: true },
  { title: 'contact', width: 8, right: true },
  { title: '', width: 1 },
  { title: 'state', width: 0 },
] as const;

/**
 * The cells of one cluster-panel row (the leader gets a "*" marker). `log` counts the
 * entries the log holds; the `status` command adds their size on disk. The role column
 * also tells learners (with their progress), removed servers and C_old voters.
 */
export function panelCells(row: ServerRow, leaderId: string | null): string[] {
  const st = row.status;
  return [
    row.id === leaderId ? '*' : '',
    row.id,
    roleCell(row),
    st ? String(st.term) : '-',
    st ? String(st.commitIndex) : '-',
    st ? String(st.appliedIndex) : '-',
    st ? String(st.snapshotIndex) : '-',
    st ? String(logEntries(st)) : '-',
    formatContact(row),
    '',
    stateLabel(row),
  ];
}

export function panelLine(cells: readonly string[], width: number): string {
  const idWidth = Math.max(PANEL_COLUMNS[1].width, cells[1].length + 1);
  const text = cells
    .map((c, i) => {
      const col = PANEL_COLUMNS[i];
      const w = i === 1 ? idWidth : col.width;
      if (w === 0) return c;
      const cut = c.length > w ? c.slice(0, w) : c;
      return 'right' in col && col.right ? cut.padStart(w) : cut.padEnd(w);
    })
    .join('');
  return clip(text, width);
}

export function panelHeader(width: number): string {
  return panelLine(PANEL_COLUMNS.map((c) => c.title), width);
}

export function rowTone(row: ServerRow, leaderId: string | null): Tone {
  // Out of the configuration: whatever its process does no longer matters to the cluster.
  if (row.member?.kind === 'removed') return 'dim';
  if (row.liveness === 'down') return 'red';
  if (row.liveness === 'paused' || row.liveness === 'starting' || row.liveness === 'no answer') return 'yellow';
  if (row.blocked.length > 0) return 'magenta';
  if (row.id === leaderId) return 'green';
  if (row.member?.kind === 'learner') return 'cyan';
  if (row.status?.role === 'candidate') return 'yellow';
  return 'normal';
}

/** Column widths of the results pane for a given width. */
function resultColumns(width: number): { id: number; input: number; value: number; server: number; latency: number } {
  const id = 5;
  const server = 9;
  const latency = 8;
  const rest = Math.max(20, width - id - server - latency - 6);
  const input = Math.max(10, Math.floor(rest * 0.45));
  return { id, input, value: rest - input, server, latency };
}

export function resultHeader(width: number): string {
  const c = resultColumns(width);
  return clip(`${'opId'.padStart(c.id)}  ${'command'.padEnd(c.input)}  ${'value'.padEnd(c.value)}  ${'server'.padEnd(c.server)}${'latency'.padStart(c.latency)}`, width);
}

function valueText(e: ResultEntry): string {
  if (e.pairs) return e.pairs.map((p) => `${p.key}=${p.value === '' ? '(empty)' : p.value}`).join(' ');
  if (e.value === undefined) return '';
  return e.value === '' ? '(empty)' : e.value;
}

function latencyText(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** One result as screen lines of at most `width` characters (errors and long messages wrap). */
export function resultLines(e: ResultEntry, width: number): Line[] {
  const c = resultColumns(width);
  const id = e.opId !== undefined ? String(e.opId) : e.kind === 'error' ? 'x' : e.kind === 'info' ? '-' : '';
  const head = `${id.padStart(c.id)}  ${fit(e.input, c.input)}  `;
  if (e.kind === 'op' && !e.pending) {
    const line = `${head}${fit(valueText(e), c.value)}  ${fit(e.servedBy ?? '', c.server)}${latencyText(e.latencyMs).padStart(c.latency)}`;
    return [{ text: clip(line, width), tone: 'normal' }];
  }
  if (e.pending) {
    const msg = e.kind === 'op' ? 'waiting...' : e.message ?? 'working...';
    return [{ text: clip(`${head}${msg}`, width), tone: 'yellow' }];
  }
  const tone: Tone = e.kind === 'error' ? 'red' : 'normal';
  const prefix = e.kind === 'error' ? 'error: ' : '';
  const where = e.servedBy || e.latencyMs !== undefined ? ` [${[e.servedBy, latencyText(e.latencyMs)].filter(Boolean).join(', ')}]` : '';
  const message = `${prefix}${e.message ?? ''}${where}`;
  const msgLines = message.split('\n');
  const firstFits = msgLines.length === 1 && head.length + message.length <= width;
  if (firstFits) return [{ text: `${head}${message}`, tone, bold: e.kind === 'error' }];
  const indent = ' '.repeat(c.id + 2);
  if (e.input === '') {
    // A notice of the UI's own: the message starts on the first line.
    const body = msgLines.flatMap((l) => wrap(l, width - indent.length));
    return body.map((l, i) => ({ text: `${i === 0 ? `${id.padStart(c.id)}  ` : indent}${l}`, tone }));
  }
  const out: Line[] = [{ text: clip(`${id.padStart(c.id)}  ${e.input}`, width), tone, bold: e.kind === 'error' }];
  for (const l of msgLines) for (const w of wrap(l, width - indent.length)) out.push({ text: indent + w, tone });
  return out;
}

/** Breaks text into pieces of at most `width` characters, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(1, width);
  if (text.length <= w) return [text];
  const out: string[] = [];
  let rest = text;
  while (rest.length > w) {
    let cut = rest.lastIndexOf(' ', w);
    if (cut <= w / 3) cut = w;
    out.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest.length > 0) out.push(rest);
  return out;
}

/** Pads or cuts to exactly `w` characters; a cut ends in "~". */
export function fit(text: string, w: number): string {
  const oneLine = text.replace(/[\r\n\t]/g, ' ');
  if (oneLine.length <= w) return oneLine.padEnd(w);
  return `${oneLine.slice(0, Math.max(0, w - 1))}~`;
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : text.slice(0, Math.max(0, width));
}

/** The plain-text form of a result for line mode: everything, nothing cut. */
export function plainResult(e: ResultEntry): string {
  if (e.kind === 'op' && !e.pending) {
    const where = [e.servedBy ? `server ${e.servedBy}` : '', latencyText(e.latencyMs)].filter(Boolean).join(', ');
    const value = e.pairs ? e.pairs.map((p) => `\n  ${p.key}\t${p.value}`).join('') : ` ${e.value ?? ''}`;
    return `[op ${e.opId}] ${e.input} ->${value}${value.startsWith('\n') ? '\n  ' : '  '}(${where})`;
  }
  if (e.kind === 'error') {
    const where = [e.opId !== undefined ? `op ${e.opId}` : '', e.servedBy ? `server ${e.servedBy}` : '', latencyText(e.latencyMs)].filter(Boolean).join(', ');
    return `error: ${e.input}: ${e.message ?? ''}${where ? ` (${where})` : ''}`;
  }
  return e.message ?? '';
}
