import { mergeAttempts } from '../check/attempts.ts';
import { checkHistory, describeInput, formatOp, type HistoryOptions, type LinOp } from '../check/linearizability.ts';
import type { HistoryEntry } from '../history.ts';
import type { ReportCounterexample, ReportOp } from './model.ts';

/**
 * history.json as bars, Porcupine's picture: one bar per operation and key, from call to
 * return, grouped by key; and each non-linearizable key's counterexample, found by the
 * checker's own search (linearizability.ts: checkHistory, whose counterexamples are
 * `explain`'s), named by the bars' ids.
 */

const CUT = 60;

/**
 * The bars of one history (ms after its first call), every key of mget/mput its own bar.
 * The attempts of one operation (a retry with the same client and opId) are one bar, from
 * the first attempt's call to the answered one's return, as the checker counts them
 * (check/attempts.ts): two bars would show one write twice, under one id.
 */
export function historyOps(history: readonly HistoryEntry[]): ReportOp[] {
  const t0 = firstCall(history);
  const out: ReportOp[] = [];
  for (const h of mergeAttempts(history)) {
    const traceId = `${h.clientId}:${h.opId}`;
    const keys = keysOf(h);
    const outcome = h.failed ? 'failed' : h.error !== undefined ? 'unknown' : 'ok';
    keys.forEach((key, i) => {
      out.push({
        id: opId(h, key),
        traceId,
        key,
        clientId: h.clientId,
        input: cut(describeInput(h)),
        output: cut(h.error !== undefined ? `${h.failed ? 'failed' : 'error'}: ${h.error}` : h.op.type === 'mget' ? JSON.stringify(h.output?.values?.[i] ?? '') : JSON.stringify(h.output?.value ?? '')),
        outcome,
        call: h.call - t0,
        ret: h.return - t0,
      });
    });
  }
  return out;
}

/** The id of an operation's bar for one key: its trace id, plus `#key` when it has several keys. */
export function opId(h: HistoryEntry, key: string): string {
  const traceId = `${h.clientId}:${h.opId}`;
  return keysOf(h).length > 1 ? `${traceId}#${key}` : traceId;
}

/**
 * Counterexamples of every key that is not linearizable: the operations (bar ids) no
 * order explains, and the culprit whose result is unexplained. Runs the checker's search
 * again (only called when the linearizability rule failed), with the options the rule
 * used (`linearizabilityOptions` in tracing/check/rule-linearizability.ts: keys an earlier
 * run wrote start unknown, keys it set to expire are skipped), so the page and `raftkv
 * check` name the same operations.
 */
export function counterexamples(history: readonly HistoryEntry[], opts: HistoryOptions = {}): ReportCounterexample[] {
  const t0 = firstCall(history);
  const out: ReportCounterexample[] = [];
  for (const k of checkHistory(history, opts).keys) {
    const cx = k.counterexample;
    if (k.verdict !== false || !cx) continue;
    const idOf = (o: LinOp) => (o.entry ? opId(o.entry, o.key) : `?:${o.key}`);
    out.push({
      key: k.key,
      culprit: idOf(cx.culprit),
      ops: cx.ops.map(idOf),
      minimal: cx.minimal,
      lines: cx.ops.map((o) => `${o === cx.culprit ? '*' : ' '} ${formatOp(o, t0)}`),
    });
  }
  return out;
}

/** The earliest call (0 for an empty history); a loop, since a long history overflows Math.min's arguments. */
function firstCall(history: readonly HistoryEntry[]): number {
  let t0 = Infinity;
  for (const h of history) if (h.call < t0) t0 = h.call;
  return Number.isFinite(t0) ? t0 : 0;
}

function keysOf(h: HistoryEntry): string[] {
  const op = h.op;
  if (op.type === 'mget') return [...new Set(op.keys)];
  if (op.type === 'mput') return [...new Set(op.pairs.map((p) => p.key))];
  return [op.key];
}


function cut(text: string): string {
  return text.length > CUT ? `${text.slice(0, CUT - 3)}...` : text;
}
