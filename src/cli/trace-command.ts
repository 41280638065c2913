import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseBound, type Selection } from '../../tracing/slice/selection.ts';
import { SliceError, sliceRun } from '../../tracing/slice/slice-run.ts';
import { argsErrorMessage } from './usage.ts';

/**
 * `raftkv trace <sub>`: tools for a run's trace files. `trace slice` cuts a ShiViz log of
 * selected events out of a run too large for a browser (tracing/slice/). It parses its own
 * options (node:util parseArgs, as raftkv.ts does), which no other command shares.
 */

export const TRACE_USAGE = `usage: raftkv trace slice <runDir> [--trace-id ID]... [--hosts h1,h2] [--tags Tag1,Tag2]
                          [--from F] [--to T] [--max-events N] [-o <file>]
  a ShiViz log of the selected events only, valid on its own (clocks recomputed so each
  host counts 1, 2, 3, ... and happens-before among the kept events is as in the full run)
  --trace-id ID     events of this operation (<clientId>:<opId>); repeat for more
  --hosts h1,h2     events on these hosts
  --tags T1,T2      events with these tags (PutStart, AppendEntries, ...)
  --from F, --to T  a range of trace.jsonl, ends included: a line number, or an event as
                    host:counter (as "raftkv check" prints offenders)
  --max-events N    keep the first N selected events (trace.jsonl order) and say so
  -o <file>         where to write (default <runDir>/slice.log)
  Filters of different kinds must all match; values of one kind are alternatives.
  Exit 0 written, 1 valid filters that together match no event, 2 bad arguments (a host, tag
  or trace id the run does not have, a bad range) or an unreadable run (nothing written).`;

/** Above this many events ShiViz in a browser gets slow; the summary says so. */
const SHIVIZ_COMFORT_EVENTS = 5000;

export interface TraceIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const consoleIo: TraceIo = { out: (t) => console.log(t), err: (t) => console.error(t) };

/** The command line after `trace`; returns the exit code (0 written, 1 empty selection, 2 usage or input error). */
export async function traceMain(argv: readonly string[], io: TraceIo = consoleIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io[sub === undefined ? 'err' : 'out'](TRACE_USAGE);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'slice') {
    io.err(`raftkv trace: unknown subcommand "${sub}" (there is "slice")\n${TRACE_USAGE}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseSliceArgs(rest);
  } catch (err) {
    io.err(`raftkv trace slice: ${argsErrorMessage(err as Error)}\n${TRACE_USAGE}`);
    return 2;
  }
  if (parsed === 'help') {
    io.out(TRACE_USAGE);
    return 0;
  }
  const { dir, selection, out } = parsed;
  try {
    const started = performance.now();
    const r = await sliceRun(dir, selection, out);
    const ms = Math.round(performance.now() - started);
    if (r.skippedCount > 0) io.err(`note: skipped ${r.skippedCount} unreadable line(s) of trace.jsonl (${r.skipped.map((s) => `line ${s.line}: ${s.message}`).join('; ')})`);
    if (r.kept < r.selected) io.err(`note: ${r.selected} events matched; kept the first ${r.kept} in trace.jsonl order (--max-events ${r.kept})`);
    else if (r.kept > SHIVIZ_COMFORT_EVENTS) io.err(`note: ${r.kept} events is more than ShiViz draws comfortably (a few thousand); narrow the selection or add --max-events`);
    io.out(`sliced ${r.kept} of ${r.total} events (hosts: ${r.hosts.join(', ')}) into ${out} in ${ms} ms`);
    return 0;
  } catch (err) {
    if (err instanceof SliceError) {
      io.err(`raftkv trace slice: ${err.message}`);
      return err.kind === 'empty' ? 1 : 2;
    }
    throw err;
  }
}

/** The run directory, selection and output of a `trace slice` command line; throws Error on bad arguments. */
export function parseSliceArgs(argv: readonly string[]): { dir: string; selection: Selection; out: string } | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      'trace-id': { type: 'string', multiple: true },
      hosts: { type: 'string', multiple: true },
      tags: { type: 'string', multiple: true },
      from: { type: 'string' },
      to: { type: 'string' },
      'max-events': { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length !== 1) throw new Error(positionals.length === 0 ? 'expected a run directory' : `expected one run directory (got ${positionals.join(' ')})`);
  const dir = positionals[0];
  const selection: Selection = {};
  const list = (flag: string, given: string[] | undefined) => {
    if (given === undefined) return undefined;
    const items = given.flatMap((g) => g.split(',')).map((x) => x.trim());
    if (items.some((x) => x === '')) throw new Error(`${flag} takes a comma-separated list without empty items (got "${given.join(',')}")`);
    return new Set(items);
  };
  const traceIds = values['trace-id'];
  if (traceIds !== undefined) {
    if (traceIds.some((id) => id === '')) throw new Error('--trace-id takes a trace id, <clientId>:<opId>');
    selection.traceIds = new Set(traceIds);
  }
  const hosts = list('--hosts', values.hosts);
  if (hosts) selection.hosts = hosts;
  const tags = list('--tags', values.tags);
  if (tags) selection.tags = tags;
  if (values.from !== undefined) selection.from = parseBound(values.from, '--from');
  if (values.to !== undefined) selection.to = parseBound(values.to, '--to');
  if (selection.from && selection.to && 'line' in selection.from && 'line' in selection.to && selection.from.line > selection.to.line) {
    throw new Error(`--from ${selection.from.line} is after --to ${selection.to.line}`);
  }
  if (values['max-events'] !== undefined) {
    const n = Number(values['max-events']);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--max-events must be a positive integer (got "${values['max-events']}")`);
    selection.maxEvents = n;
  }
  return { dir, selection, out: values.output ?? path.join(dir, 'slice.log') };
}
