import { at, describe, nowhere, result, type Offender, type RuleResult, type Trace } from './trace.ts';

/**
 * Servers: each process life opens with ServerStart (a second ServerStart of a host starts
 * a new life) and records ServerListening once, before it receives anything.
 * Clients: KvslibStart exactly once, before all of the client's actions; KvslibStop
 * exactly once, after all of them, with nothing after it.
 */
export function lifecycleRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const notes: string[] = [];

  for (const host of trace.serverHosts()) {
    const lives = trace.lives(host);
    if (lives.length === 0) continue;
    if (lives[0][0].tag !== 'ServerStart') {
      for (const e of lives[0]) offenders.push(at(e, `${e.tag} recorded before ${host}'s first ServerStart`));
      lives.shift();
    }
    lives.forEach((life, i) => {
      const start = life[0];
      const listening = life.filter((e) => e.tag === 'ServerListening');
      for (const extra of listening.slice(1)) offenders.push(at(extra, `a second ServerListening in the life begun by ${describe(start)}`));
      const first = listening[0];
      const receives = life.filter((e) => e.tag.endsWith('Recv'));
      if (!first) {
        if (receives.length > 0) offenders.push(at(start, `life ${i + 1} of ${host} received ${describe(receives[0])} but never recorded ServerListening`));
        else notes.push(`life ${i + 1} of ${host} ended before ServerListening`);
        return;
      }
      for (const r of receives) {
        if (trace.counter(r) < trace.counter(first)) offenders.push(at(r, `${r.tag} received before ${describe(first)}`));
      }
    });
  }

  for (const host of trace.clientHosts()) {
    const events = trace.hostEvents(host);
    const starts = events.filter((e) => e.tag === 'KvslibStart');
    const stops = events.filter((e) => e.tag === 'KvslibStop');
    if (starts.length === 0) offenders.push(at(events[0], `client ${host} never recorded KvslibStart`));
    for (const extra of starts.slice(1)) offenders.push(at(extra, `client ${host} records KvslibStart again`));
    if (starts.length > 0) {
      for (const e of events) {
        if (trace.counter(e) < trace.counter(starts[0])) offenders.push(at(e, `${e.tag} recorded before ${describe(starts[0])}`));
      }
    }
    if (stops.length === 0) offenders.push(nowhere(host, `client ${host} never recorded KvslibStop (last event: ${describe(events[events.length - 1])})`));
    for (const extra of stops.slice(1)) offenders.push(at(extra, `client ${host} records KvslibStop again`));
    if (stops.length > 0) {
      for (const e of events) {
        if (e.tag !== 'KvslibStop' && trace.counter(e) > trace.counter(stops[0])) offenders.push(at(e, `${e.tag} recorded after ${describe(stops[0])}`));
      }
    }
  }
  return result('lifecycle', offenders, { note: notes.join('; ') || undefined });
}
