import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { VectorClock } from '../clock.ts';
import { ClockError, recomputeClocks } from './recompute-clocks.ts';
import { parseRecord, readLines } from './read-trace.ts';
import { formatBound, Selector, type Selection } from './selection.ts';
import { writeSliceLog, type KeptLine } from './write-log.ts';

/**
 * `raftkv trace slice`: a run's trace.jsonl in, a ShiViz log of the selected events out,
 * valid in ShiViz's strict mode on its own (recompute-clocks.ts). Two streaming passes
 * over trace.jsonl: the first selects and keeps each kept event's line and clock, the
 * second writes the kept events (write-log.ts). Memory grows with the kept events only.
 */

export interface SliceResult {
  /** Events (readable records) in trace.jsonl. */
  total: number;
  /** Events the filters matched, before --max-events. */
  selected: number;
  /** Events written. */
  kept: number;
  /** Hosts with kept events, sorted. */
  hosts: string[];
  /** The log written. */
  out: string;
  /** Lines of trace.jsonl that could not be read (skipped), the first few. */
  skipped: { line: number; message: string }[];
  skippedCount: number;
}

/**
 * Why nothing was written: `input` a missing run directory, an unreadable or invalid
 * trace, a filter naming something the run does not have (the message lists what it has);
 * `empty` the filters are valid but together match no event.
 */
export class SliceError extends Error {
  override name = 'SliceError';
  constructor(
    message: string,
    readonly kind: 'input' | 'empty',
  ) {
    super(message);
  }
}

/** Trace ids listed in an error, at most. */
const SHOW_IDS = 5;

/**
 * Slices the run in `dir` into `out` (a ShiViz log). Throws SliceError as described
 * there; `out` is left untouched on any error.
 */
export async function sliceRun(dir: string, selection: Selection, out: string): Promise<SliceResult> {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new SliceError(`no run directory ${dir}`, 'input');
  }
  if (!isDir) throw new SliceError(`${dir} is not a run directory (expected a directory holding trace.jsonl)`, 'input');
  const jsonlPath = path.join(dir, 'trace.jsonl');
  const resolvedOut = path.resolve(out);
  for (const own of ['trace.jsonl', 'shiviz.log', 'history.json', 'meta.json']) {
    if (resolvedOut === path.resolve(dir, own)) throw new SliceError(`-o ${out} would overwrite the run's own ${own}; choose another file`, 'input');
  }

  // Found out now, not after reading a 100 MB trace.
  const outDir = path.dirname(resolvedOut);
  if (!existsSync(outDir)) throw new SliceError(`cannot write ${out}: no directory ${outDir}`, 'input');

  const selector = new Selector(selection);
  const max = selection.maxEvents ?? Infinity;
  const knownHosts = new Set<string>();
  const knownTags = new Set<string>();
  const seenIds = new Set<string>();
  const kept: { line: number; host: string; counter: number; clock: VectorClock }[] = [];
  const skipped: SliceResult['skipped'] = [];
  let skippedCount = 0;
  let total = 0;
  let selected = 0;
  try {
    for await (const { line, text } of readLines(jsonlPath)) {
      if (text.trim() === '') continue;
      let r;
      try {
        r = parseRecord(text);
      } catch (err) {
        // A torn last line of a run still being written is the usual case; the rest is sound.
        if (skipped.length < 3) skipped.push({ line, message: (err as Error).message });
        skippedCount++;
        continue;
      }
      total++;
      knownHosts.add(r.host);
      knownTags.add(r.tag);
      if (selection.traceIds?.has(r.traceId)) seenIds.add(r.traceId);
      if (!selector.take({ line, host: r.host, tag: r.tag, traceId: r.traceId, counter: r.clock[r.host] })) continue;
      selected++;
      if (kept.length < max) kept.push({ line, host: r.host, counter: r.clock[r.host], clock: r.clock });
    }
  } catch (err) {
    throw new SliceError(`cannot read ${jsonlPath}: ${(err as Error).message}`, 'input');
  }

  if (total === 0) throw new SliceError(`${jsonlPath} holds no events${skippedCount > 0 ? ` (${skippedCount} unreadable lines)` : ''}`, 'input');
  const unknown = (kind: string, asked: ReadonlySet<string> | undefined, known: Set<string>) => {
    const missing = [...(asked ?? [])].filter((x) => !known.has(x));
    if (missing.length > 0) throw new SliceError(`unknown ${kind}${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ${kind}s in this run: ${[...known].sort().join(', ')}`, 'input');
  };
  unknown('host', selection.hosts, knownHosts);
  unknown('tag', selection.tags, knownTags);
  const missingIds = [...(selection.traceIds ?? [])].filter((id) => !seenIds.has(id));
  if (missingIds.length > 0) {
    throw new SliceError(`no event has trace id ${missingIds.slice(0, SHOW_IDS).join(', ')}${missingIds.length > SHOW_IDS ? ` (and ${missingIds.length - SHOW_IDS} more)` : ''}; trace ids are <clientId>:<opId>, e.g. ${exampleIds(knownHosts)}`, 'input');
  }
  for (const [flag, bound, found] of [['--from', selection.from, selector.fromFound], ['--to', selection.to, selector.toFound]] as const) {
    if (bound && !found) throw new SliceError(`${flag} ${formatBound(bound)}: no such event in ${jsonlPath}`, 'input');
  }
  if (selected === 0) throw new SliceError(`no event matches ${describeSelection(selection)} (of ${total} events)`, 'empty');

  let clocks: VectorClock[];
  try {
    clocks = recomputeClocks(kept);
  } catch (err) {
    if (err instanceof ClockError) throw new SliceError(err.message, 'input');
    throw err;
  }
  const lines: KeptLine[] = kept.map((k, i) => ({ line: k.line, host: k.host, counter: k.counter, clock: clocks[i] }));
  try {
    await writeSliceLog(jsonlPath, lines, out);
  } catch (err) {
    throw new SliceError(`cannot write ${out}: ${(err as Error).message}`, 'input');
  }
  return { total, selected, kept: kept.length, hosts: [...new Set(kept.map((k) => k.host))].sort(), out, skipped, skippedCount };
}

/** The filters in words, for the empty-selection message. */
export function describeSelection(s: Selection): string {
  const parts: string[] = [];
  if (s.traceIds) parts.push(`trace id ${[...s.traceIds].join(' or ')}`);
  if (s.hosts) parts.push(`host ${[...s.hosts].join(' or ')}`);
  if (s.tags) parts.push(`tag ${[...s.tags].join(' or ')}`);
  if (s.from || s.to) parts.push(`range ${s.from ? formatBound(s.from) : 'start'} .. ${s.to ? formatBound(s.to) : 'end'}`);
  return parts.length > 0 ? parts.join(' and ') : 'the selection';
}

/** A hint at the trace id format from the run's hosts: clients are the hosts that are not servers. */
function exampleIds(hosts: Set<string>): string {
  const client = [...hosts].sort().find((h) => !/^server\d+$/.test(h));
  return client ? `${client}:1` : 'client0:1';
}
