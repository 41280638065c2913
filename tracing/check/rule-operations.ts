import { at, describe, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * docs/TRACING.md rule 1, per trace id (one client operation):
 *
 * Counts: exactly one Start; exactly one ResultRecvd, on the client, after the Start; every
 * Send after the Start and before the ResultRecvd; at least one Send (unless the client
 * gave up locally: an error result and no server ever received the op); each Recv caused
 * by a Send to its host or a Fwd to it that happens before it, at most one Recv per such
 * Send/Fwd and at most 2 Recv per Send overall; per host, in its own order, every Fwd and
 * every Result backed by an earlier Recv of its own (Fwd <= 1 and Result <= 1 per Recv),
 * every RaftPutReq by an earlier PutRecv, every PutResult by an earlier RaftPutReq, every
 * ResultFwd by an earlier Fwd and by a Result that happens before it.
 *
 * Order, for every operation a server answered (ResultRecvd without error, or after a
 * Result): some chain
 *   Start -> Send(to F) -> Recv@F [-> Fwd@F(to L) -> Recv@L] -> RaftPutReq@L -> Commit(i)
 *         -> Apply(i)@L -> Result@L [-> ResultFwd@F] -> ResultRecvd
 * exists by happens-before (no RaftPutReq/Commit/Apply for reads). Retries repeat steps,
 * so the chain may use any of the repeated events; the Commit is the one whose index is
 * that of an Apply of this trace id on the serving leader, recorded by whichever leader
 * committed it.
 *
 * An operation whose client's life ended without KvslibStop (the process died,
 * trace.lifeDied) before its ResultRecvd was cut short: it needs no ResultRecvd, Send or
 * chain. Retried in a later life (`raftkv retry`), its attempts are one operation
 * (retriedAcrossLives) and every attempt must name the same op.
 *
 * On a run still being written (trace.live), operations without a ResultRecvd in the cut
 * are in flight and not judged.
 */
export function operationOrderRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  let exempt = 0;
  let chains = 0;
  let inFlight = 0;
  const cutShort: string[] = [];
  for (const traceId of trace.traceIds()) {
    const events = trace.events({ traceId });
    // A run still being written: an operation not answered yet in the cut is not judged.
    if (trace.live && inFlightOp(trace, events)) {
      inFlight++;
      continue;
    }
    const out = checkOperation(trace, traceId, events);
    offenders.push(...out.offenders);
    if (out.exempt) exempt++;
    if (out.chain) chains++;
    if (out.cutShort) cutShort.push(traceId);
  }
  const note = `${chains} answered operations have a complete chain${exempt > 0 ? `; ${exempt} gave up on the client before any server received them (no Send required)` : ''}${cutShort.length > 0 ? `; ${cutShort.length} cut short by their client's end, never answered (${cutShort.slice(0, 5).join(', ')}${cutShort.length > 5 ? ', ...' : ''})` : ''}${inFlight > 0 ? `; ${inFlight} in flight, not judged (run still being written)` : ''}`;
  return result('operation-order', offenders, { note });
}

const PATH = ['Start', 'Send', 'Recv', 'Fwd', 'Result', 'ResultFwd', 'ResultRecvd'];

function familyOf(tag: string): { family: 'Get' | 'Put'; step: string } | null {
  if (tag === 'RaftPutReq') return { family: 'Put', step: 'RaftPutReq' };
  const m = /^(Get|Put)(.+)$/.exec(tag);
  if (!m || !PATH.includes(m[2])) return null;
  return { family: m[1] as 'Get' | 'Put', step: m[2] };
}

/** An operation a run still being written has not answered yet: its last Start has no ResultRecvd after it, and its client's life goes on. */
function inFlightOp(trace: Trace, events: TraceEvent[]): boolean {
  const starts = events.filter((e) => (e.tag === 'GetStart' || e.tag === 'PutStart')).sort((a, b) => trace.counter(a) - trace.counter(b));
  const last = starts[starts.length - 1];
  if (!last) return false;
  const answered = events.some((e) => e.tag.endsWith('ResultRecvd') && e.host === last.host && trace.counter(e) > trace.counter(last));
  return !answered && !trace.lifeDied(last);
}

function checkOperation(trace: Trace, traceId: string, events: TraceEvent[]): { offenders: Offender[]; exempt: boolean; chain: boolean; cutShort?: boolean } {
  const offenders: Offender[] = [];
  const path = events.filter((e) => familyOf(e.tag) !== null);
  if (path.length === 0) return { offenders, exempt: false, chain: false };
  const hb = (a: TraceEvent, b: TraceEvent) => trace.hb(a, b);
  const step = (s: string) => path.filter((e) => familyOf(e.tag)!.step === s);

  const starts = step('Start');
  if (starts.length === 0) {
    offenders.push(at(path[0], `${path[0].tag} of ${traceId}, whose operation has no GetStart/PutStart (an untraced client, or a lost Start)`));
    return { offenders, exempt: false, chain: false };
  }
  starts.sort((a, b) => trace.counter(a) - trace.counter(b));
  const retried = retriedAcrossLives(trace, starts, step('ResultRecvd'));
  if (!retried) for (const extra of starts.slice(1)) offenders.push(at(extra, `a second Start for ${traceId} (first: ${describe(starts[0])})`));
  else {
    // One OpId is one operation: the servers answer a repeat from their session table.
    const what = (e: TraceEvent) => `${e.tag}(${JSON.stringify(e.body.key)}${e.body.value !== undefined ? `, ${JSON.stringify(e.body.value)}` : ''})`;
    for (const again of starts.slice(1)) {
      if (what(again) !== what(starts[0])) offenders.push(at(again, `${traceId} is started again as ${what(again)}, first as ${what(starts[0])} (${describe(starts[0])}): an OpId names one operation`));
    }
  }
  const start = starts[0];
  const lastStart = starts[starts.length - 1];
  const family = familyOf(start.tag)!.family;
  for (const e of path) {
    if (familyOf(e.tag)!.family !== family) offenders.push(at(e, `${e.tag} in ${traceId}, which began with ${start.tag}`));
  }
  const sends = step('Send');
  const recvs = step('Recv');
  const fwds = step('Fwd');
  const rprs = step('RaftPutReq');
  const results = step('Result');
  const resultFwds = step('ResultFwd');
  // A retry in a later life: the earlier attempts' results (errors, if any) are not the answer; the last attempt's is.
  const recvds = retried ? step('ResultRecvd').filter((r) => r.host !== start.host || trace.counter(r) > trace.counter(lastStart)) : step('ResultRecvd');

  // ResultRecvd: exactly one (per attempt), on the client, after the Start; none when the
  // client's process died before it (no KvslibStop in that life): the operation was cut short.
  const cutShort = recvds.length === 0 && trace.lifeDied(lastStart);
  if (recvds.length === 0 && !cutShort) offenders.push(at(lastStart, `${traceId} never got a ${family}ResultRecvd`));
  for (const extra of recvds.slice(1)) offenders.push(at(extra, `a second ${family}ResultRecvd for ${traceId} (first: ${describe(recvds[0])})`));
  const recvd = recvds[0] as TraceEvent | undefined;
  if (recvd && recvd.host !== start.host) offenders.push(at(recvd, `${recvd.tag} on ${recvd.host}, but ${traceId} started on ${start.host}`));
  if (recvd && !hb(start, recvd)) offenders.push(at(recvd, `${recvd.tag} does not happen after ${describe(start)}`));

  // Sends: on the client, between Start and ResultRecvd; at least one.
  for (const s of sends) {
    if (s.host !== start.host) offenders.push(at(s, `${s.tag} on ${s.host}, but ${traceId} started on ${start.host}`));
    else if (!hb(start, s)) offenders.push(at(s, `${s.tag} before ${describe(start)}`));
    else if (recvd && !hb(s, recvd)) offenders.push(at(s, `${s.tag} after ${describe(recvd)}`));
  }
  const gaveUpLocally = recvd !== undefined && typeof recvd.body.error === 'string' && recvs.length === 0;
  if (sends.length === 0 && !gaveUpLocally && !cutShort) offenders.push(at(start, `${traceId} has no ${family}Send`));

  // Each Recv has its own cause: a Send to its host or a Fwd to it, before it.
  const causes = (host: string) => [
    ...sends.filter((s) => s.body.serverId === host),
    ...fwds.filter((f) => f.body.leaderId === host),
  ];
  for (const [host, list] of groupBy(recvs, (r) => r.host)) {
    list.sort((a, b) => trace.counter(a) - trace.counter(b));
    const cs = causes(host);
    list.forEach((r, i) => {
      if (!cs.some((c) => hb(c, r))) offenders.push(at(r, `${r.tag} on ${host}: no ${family}Send or ${family}Fwd to ${host} happens before it`));
      else if (i >= cs.length) offenders.push(at(r, `${r.tag} #${i + 1} on ${host}, but only ${cs.length} Send/Fwd went to ${host}`));
    });
  }
  if (sends.length > 0 && recvs.length > 2 * sends.length) {
    offenders.push(at(recvs[recvs.length - 1], `${recvs.length} ${family}Recv for ${sends.length} ${family}Send: at most 2 per Send`));
  }

  // Per host, in its own order: every step backed by an earlier one on the same host.
  for (const [host, list] of groupBy(path.filter((e) => e.host !== start.host), (e) => e.host)) {
    list.sort((a, b) => trace.counter(a) - trace.counter(b));
    const n = { Recv: 0, Fwd: 0, RaftPutReq: 0, Result: 0, ResultFwd: 0 };
    for (const e of list) {
      switch (familyOf(e.tag)!.step) {
        case 'Recv':
          n.Recv++;
          break;
        case 'Fwd':
          if (++n.Fwd > n.Recv) offenders.push(at(e, `${e.tag} on ${host} without a ${family}Recv of its own before it`));
          break;
        case 'RaftPutReq':
          if (++n.RaftPutReq > n.Recv) offenders.push(at(e, `RaftPutReq on ${host} without a PutRecv of its own before it`));
          break;
        case 'Result':
          n.Result++;
          if (n.Result > n.Recv) offenders.push(at(e, `${e.tag} on ${host} without a ${family}Recv of its own before it`));
          else if (family === 'Put' && n.Result > n.RaftPutReq) offenders.push(at(e, `PutResult on ${host} without a RaftPutReq of its own before it`));
          break;
        case 'ResultFwd':
          n.ResultFwd++;
          if (n.ResultFwd > n.Fwd) offenders.push(at(e, `${e.tag} on ${host} without a ${family}Fwd of its own before it`));
          else if (!results.some((r) => hb(r, e))) offenders.push(at(e, `${e.tag} on ${host}: no ${family}Result happens before it`));
          break;
        default:
          offenders.push(at(e, `${e.tag} of ${traceId} on ${host}, not on its client ${start.host}`));
      }
    }
  }

  // The chain, for operations a server answered.
  let chain = false;
  if (recvd && (recvd.body.error === undefined || [...results, ...resultFwds].some((r) => hb(r, recvd)))) {
    const found = findChain(trace, family, traceId, { start, sends, recvs, fwds, rprs, results, resultFwds, recvd });
    if (found === true) chain = true;
    else offenders.push(at(found.event, `${traceId}: no chain Start -> ... -> ResultRecvd: ${found.message}`));
  }
  return { offenders, exempt: gaveUpLocally && sends.length === 0, chain, cutShort };
}

/**
 * An operation retried by later lives of its client (`raftkv retry --client-id`: same
 * OpId, a new process): Starts on one host, each after the one before in a later life
 * (trace.laterLife), and every attempt but the last either ended with one error
 * ResultRecvd before the next Start (outcome unknown), or got none because its life ended
 * without KvslibStop (the process died: trace.lifeDied). Its trace id then holds one
 * Start per attempt and one ResultRecvd per answered attempt.
 */
function retriedAcrossLives(trace: Trace, starts: TraceEvent[], recvds: TraceEvent[]): boolean {
  if (starts.length < 2) return false;
  const byCounter = (a: TraceEvent, b: TraceEvent) => trace.counter(a) - trace.counter(b);
  const ss = [...starts].sort(byCounter);
  const rs = [...recvds].filter((r) => r.host === ss[0].host).sort(byCounter);
  for (let i = 0; i + 1 < ss.length; i++) {
    if (ss[i].host !== ss[i + 1].host || !trace.laterLife(ss[i], ss[i + 1])) return false;
    const mine = rs.filter((r) => trace.counter(ss[i]) < trace.counter(r) && trace.counter(r) < trace.counter(ss[i + 1]));
    if (mine.length > 1) return false;
    if (mine.length === 1 ? typeof mine[0].body.error !== 'string' : !trace.lifeDied(ss[i])) return false;
  }
  return true;
}

interface Steps {
  start: TraceEvent;
  sends: TraceEvent[];
  recvs: TraceEvent[];
  fwds: TraceEvent[];
  rprs: TraceEvent[];
  results: TraceEvent[];
  resultFwds: TraceEvent[];
  recvd: TraceEvent;
}

/** Searches for a chain; on failure, explains the link missing at the deepest point reached. */
function findChain(trace: Trace, family: 'Get' | 'Put', traceId: string, s: Steps): true | { message: string; event: TraceEvent } {
  const hb = (a: TraceEvent, b: TraceEvent) => trace.hb(a, b);
  let deepest = { depth: -1, message: '', event: s.recvd };
  const fail = (depth: number, message: string, event: TraceEvent): false => {
    if (depth > deepest.depth) deepest = { depth, message, event };
    return false;
  };
  const applies = trace.events({ traceId, tag: 'Apply' });
  const commits = trace.events({ traceId, tag: 'Commit' });

  // Recv@host from the client: a Send to that host between Start and it.
  const sentTo = (r: TraceEvent, depth: number): boolean =>
    s.sends.some((x) => x.body.serverId === r.host && hb(s.start, x) && hb(x, r)) ||
    fail(depth, `no ${family}Send to ${r.host} between ${describe(s.start)} and ${describe(r)}`, r);

  // Recv@L -> [RaftPutReq -> Commit(i) -> Apply(i)@L] -> Result@L.
  const served = (r2: TraceEvent, res: TraceEvent, depth: number): boolean => {
    if (family === 'Get') return true;
    const qs = s.rprs.filter((q) => q.host === res.host && hb(r2, q) && hb(q, res));
    if (qs.length === 0) return fail(depth, `no RaftPutReq on ${res.host} between ${describe(r2)} and ${describe(res)}`, res);
    const as = applies.filter((a) => a.host === res.host && hb(a, res));
    if (as.length === 0) return fail(depth + 1, `no Apply of ${traceId} on ${res.host} before ${describe(res)}`, res);
    for (const q of qs) {
      for (const a of as) {
        if (commits.some((c) => c.body.index === a.body.index && hb(q, c) && hb(c, a) && hb(c, res))) return true;
      }
    }
    return fail(depth + 2, `no Commit of ${traceId} at the index of an Apply on ${res.host} (${as.map((a) => a.body.index).join(', ')}) between the RaftPutReq (${qs.map(describe).join(', ')}) and ${describe(res)}`, res);
  };

  const lastHops = [...s.results, ...s.resultFwds].filter((x) => hb(x, s.recvd)).sort((a, b) => trace.counter(b) - trace.counter(a));
  if (lastHops.length === 0) return fail(0, `no ${family}Result or ${family}ResultFwd happens before ${describe(s.recvd)}`, s.recvd) || deepest;
  for (const last of lastHops) {
    if (familyOf(last.tag)!.step === 'Result') {
      const r2s = s.recvs.filter((r) => r.host === last.host && hb(r, last));
      if (r2s.length === 0) {
        fail(1, `no ${family}Recv on ${last.host} before ${describe(last)}`, last);
        continue;
      }
      for (const r2 of r2s) if (served(r2, last, 4) && sentTo(r2, 8)) return true;
      continue;
    }
    // Forwarded: Recv@F -> Fwd@F -> Recv@L -> ... -> Result@L -> ResultFwd@F.
    const F = last.host;
    const ress = s.results.filter((res) => res.host !== F && hb(res, last));
    if (ress.length === 0) {
      fail(1, `no ${family}Result on another server before ${describe(last)}`, last);
      continue;
    }
    for (const res of ress) {
      const fws = s.fwds.filter((f) => f.host === F && f.body.leaderId === res.host && hb(f, last));
      if (fws.length === 0) {
        fail(2, `no ${family}Fwd from ${F} to ${res.host} before ${describe(last)}`, last);
        continue;
      }
      for (const fw of fws) {
        const r2s = s.recvs.filter((r) => r.host === res.host && hb(fw, r) && hb(r, res));
        if (r2s.length === 0) {
          fail(3, `no ${family}Recv on ${res.host} between ${describe(fw)} and ${describe(res)}`, res);
          continue;
        }
        const r1s = s.recvs.filter((r) => r.host === F && hb(r, fw));
        if (r1s.length === 0) {
          fail(3, `no ${family}Recv on ${F} before ${describe(fw)}`, fw);
          continue;
        }
        for (const r2 of r2s) {
          if (!served(r2, res, 4)) continue;
          for (const r1 of r1s) if (sentTo(r1, 8)) return true;
        }
      }
    }
  }
  return deepest;
}

function groupBy<T>(list: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of list) {
    const k = key(x);
    const l = out.get(k);
    if (l) l.push(x);
    else out.set(k, [x]);
  }
  return out;
}
