import type { HistoryEntry } from '../history.ts';
import { commandOf } from './live-cut.ts';
import type { Trace, TraceEvent } from './trace.ts';

/**
 * One client operation is identified by (clientId, opId): the servers apply it at most
 * once by that pair (their session table), however many times it is sent. A client may
 * send it in several attempts, each a Start of the same trace id: `raftkv retry
 * --client-id` (or the same command again) repeats an operation whose outcome was
 * unknown, in a later life of the client, with its OpId. The attempts are one operation.
 */

/**
 * A history with one entry per (clientId, opId): the attempts of an operation merged into
 * one whose call is the first attempt's call and whose return, output and error are the
 * answered attempt's (the last attempt's when none was answered). The servers answered
 * every attempt from the same application, so the answered attempt's result is the
 * operation's, and it took effect between the first call and that return. When no
 * attempt was answered the operation may or may not have taken effect, at any time after
 * its first call (an entry with an error). Entries keep their order of first call.
 */
export function mergeAttempts(history: readonly HistoryEntry[]): HistoryEntry[] {
  const byId = new Map<string, HistoryEntry[]>();
  for (const h of history) {
    const id = `${h.clientId}:${h.opId}`;
    const list = byId.get(id);
    if (list) list.push(h);
    else byId.set(id, [h]);
  }
  const out: HistoryEntry[] = [];
  for (const list of byId.values()) {
    if (list.length === 1) {
      out.push(list[0]);
      continue;
    }
    const sorted = [...list].sort((a, b) => a.call - b.call);
    const answered = sorted.filter((h) => h.error === undefined);
    const outcome = answered[answered.length - 1] ?? sorted[sorted.length - 1];
    out.push({ ...outcome, call: sorted[0].call });
  }
  return out.sort((a, b) => a.call - b.call);
}

/**
 * Attempts of writes the servers executed (the trace shows an `Apply` or `Commit` of their
 * command) whose client never saw the outcome: started in a client life that ended without
 * KvslibStop (trace.lifeDied: the process was killed or interrupted) before their
 * ResultRecvd, so history.json may hold nothing of them. Each becomes an entry with an
 * error (it may have taken effect any time after its call, or never), to be merged with
 * the operation's other attempts (mergeAttempts): a read that saw it before a later
 * `raftkv retry` answered is then not called wrong. A write whose command no server
 * executed took no effect and is left out.
 *
 * Its call is not in the trace (records carry no wall-clock time); the latest return in
 * history.json of an operation whose ResultRecvd happens before its Start is a lower bound
 * (the first call in the history when there is none), since both times are of the same
 * monotonic clock. The op is the command's, as the log holds it.
 */
export function cutShortWrites(trace: Trace, history: readonly HistoryEntry[]): HistoryEntry[] {
  const commands = new Map<string, NonNullable<ReturnType<typeof commandOf>>>();
  for (const r of trace.events({ tag: ['Apply', 'Commit'] })) {
    const command = commandOf(r.tag === 'Apply' ? r.body.command : r.body.operation);
    if (command) commands.set(`${command.clientId}:${command.opId}`, command);
  }
  // Operations of one attempt only: a retried one's later attempts may return after the Start.
  const counts = new Map<string, number>();
  for (const h of history) counts.set(`${h.clientId}:${h.opId}`, (counts.get(`${h.clientId}:${h.opId}`) ?? 0) + 1);
  const byId = new Map(history.filter((h) => counts.get(`${h.clientId}:${h.opId}`) === 1).map((h) => [`${h.clientId}:${h.opId}`, h]));
  const firstCall = history.reduce((min, h) => Math.min(min, h.call), history.length > 0 ? Infinity : 0);
  const out: HistoryEntry[] = [];
  for (const start of trace.events({ tag: 'PutStart' })) {
    const command = commands.get(start.traceId);
    if (!command || !trace.lifeDied(start) || answeredInLife(trace, start)) continue;
    let call = firstCall;
    for (const r of trace.events({ tag: ['GetResultRecvd', 'PutResultRecvd'], where: (r) => trace.hb(r, start) })) {
      const h = byId.get(r.traceId);
      if (h && h.return > call) call = h.return;
    }
    out.push({ ...command, call, return: call, error: 'cut short: its client process ended without KvslibStop before the result' });
  }
  return out;
}

/** Whether the attempt begun by `start` got its ResultRecvd before its client's next Start of the trace id. */
function answeredInLife(trace: Trace, start: TraceEvent): boolean {
  const events = trace.events({ traceId: start.traceId }).filter((e) => e.host === start.host && trace.counter(e) > trace.counter(start));
  const next = events.filter((e) => e.tag === 'GetStart' || e.tag === 'PutStart').map((e) => trace.counter(e));
  const until = next.length > 0 ? Math.min(...next) : Infinity;
  return events.some((e) => e.tag.endsWith('ResultRecvd') && trace.counter(e) < until);
}
