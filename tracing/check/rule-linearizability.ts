import type { HistoryEntry } from '../history.ts';
import { cutShortWrites, mergeAttempts } from './attempts.ts';
import { initialState } from './initial-state.ts';
import { checkHistory, formatOp, type CheckOptions, type HistoryOptions } from './linearizability.ts';
import { at, nowhere, result, skip, type Offender, type Rule, type RuleResult, type Trace } from './trace.ts';

/**
 * docs/TRACING.md rule 5: history.json is linearizable per key (see linearizability.ts for the
 * model). Keys start absent, unless the run started over existing data (initial-state.ts):
 * then the keys that data may hold start with an unknown value. A failing key is reported at
 * the (first) Start of the operation whose result cannot be explained, with a small set of
 * operations that cannot be linearized. An operation's attempts (a `raftkv retry`, with its
 * clientId and opId) are one operation, and a write whose client died before its result
 * but which a server executed may have taken effect any time after its call (attempts.ts).
 */
export function linearizabilityRule(trace: Trace, opts: CheckOptions = {}): RuleResult {
  if (trace.history === null) return result('linearizability', [nowhere('history.json', 'history.json is missing or unreadable')]);
  const { reasons, pending, cutShort, ...historyOpts } = linearizabilityOptions(trace, opts);
  if (trace.history.length + historyOpts.extra.length === 0) return skip('linearizability', 'history.json is empty');
  const history = mergeAttempts([...trace.history, ...historyOpts.extra]);
  const { keys, partition } = checkHistory(trace.history, historyOpts);
  const offenders: Offender[] = [];
  const t0 = Math.min(...history.map((h) => h.call));
  const startOf = (h: HistoryEntry | undefined) => (h ? trace.events({ traceId: `${h.clientId}:${h.opId}`, where: (e) => e.tag.endsWith('Start') })[0] : undefined);
  for (const h of partition.malformed) offenders.push(nowhere(h.clientId, `history entry ${h.clientId}:${h.opId} (${h.op.type}) has no output values for its keys`));
  const unknown: string[] = [];
  for (const k of keys) {
    if (k.verdict === 'unknown') unknown.push(k.key);
    if (k.verdict !== false) continue;
    const cx = k.counterexample;
    if (!cx) {
      offenders.push(nowhere('history.json', `key ${JSON.stringify(k.key)}: its ${k.ops} operations cannot be linearized`));
      continue;
    }
    const alone = cx.ops.length === 1 && k.initial === 'empty' ? ' (no operation that could produce that value had been called before it returned)' : '';
    const from = k.initial === 'unknown' ? ' (from an unknown initial value)' : '';
    const message = `key ${JSON.stringify(k.key)}: not linearizable; no order of ${cx.ops.length === 1 ? 'this operation' : `these ${cx.ops.length} operations`}${cx.minimal ? '' : ' (not minimized)'}, each taking effect between its call and return, explains ${formatOp(cx.culprit, t0).split(' [')[0]}${from}${alone}`;
    const details = [`times are ms after the first call in history.json; the unexplained result is marked *`, ...cx.ops.map((o) => `${o === cx.culprit ? '*' : ' '} ${formatOp(o, t0)}`)];
    const start = startOf(cx.culprit.entry);
    offenders.push(start ? at(start, message, details) : nowhere(cx.culprit.entry?.clientId ?? 'history.json', message, details));
  }
  const retried = trace.history.length - new Set(trace.history.map((h) => `${h.clientId}:${h.opId}`)).size;
  const notes = [
    `${keys.length} keys, ${history.length} operations${pending.length > 0 ? ` (${pending.length} writes in flight taken as pending)` : ''}`,
    ...(retried > 0 ? [`${retried} retried attempts merged with their operations`] : []),
    ...(cutShort.length > 0 ? [`${cutShort.length} writes cut short by their client's end taken as pending (${cutShort.map((h) => `${h.clientId}:${h.opId}`).join(', ')})`] : []),
    ...reasons,
  ];
  // Keys initial-state.ts skipped are named in its reason already: name each skipped key once.
  const initialSkip = new Set(historyOpts.skipKeys ?? []);
  const touched = partition.skippedKeys.filter((k) => !initialSkip.has(k));
  if (touched.length) notes.push(`skipped keys touched by expire: ${touched.join(', ')}`);
  if (partition.droppedFailed) notes.push(`${partition.droppedFailed} failed ops dropped`);
  if (partition.droppedReads) notes.push(`${partition.droppedReads} reads with errors dropped`);
  if (partition.pendingWrites) notes.push(`${partition.pendingWrites} writes with errors pending`);
  if (unknown.length) notes.push(`UNDECIDED within the search budget: ${unknown.join(', ')}`);
  const status = unknown.length > 0 ? 'SKIP' : 'PASS';
  return result('linearizability', offenders, { note: notes.join('; '), status });
}

/**
 * What checkHistory takes for this run's history: `opts`' budget, the keys whose initial
 * value is unknown or that are not checked (initial-state.ts), with the reasons for the
 * rule's note, and the writes history.json lacks that may have taken effect (`extra`):
 * on a run still being written, writes in flight whose command the cut shows (`pending`,
 * live-cut.ts); writes cut short by their client's death that a server executed
 * (`cutShort`, attempts.ts). The rule and the report (tracing/report/) both use it, so
 * the page's counterexample is the one `raftkv check` prints.
 */
export function linearizabilityOptions(trace: Trace, opts: CheckOptions = {}): HistoryOptions & { reasons: string[]; extra: HistoryEntry[]; pending: HistoryEntry[]; cutShort: HistoryEntry[] } {
  const initial = initialState(trace);
  const pending = trace.live?.pending ?? [];
  const cutShort = cutShortWrites(trace, trace.history ?? []);
  return { budget: opts.budget, unknownInitial: initial.unknown, skipKeys: initial.skip, reasons: initial.reasons, extra: [...pending, ...cutShort], pending, cutShort };
}

/** The rule with a different search budget (tests, huge histories). */
export function linearizabilityWith(opts: CheckOptions): Rule {
  return (trace) => linearizabilityRule(trace, opts);
}
