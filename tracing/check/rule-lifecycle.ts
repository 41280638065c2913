import { at, describe, result, type Offender, type RuleResult, type Trace } from './trace.ts';

/**
 * Servers: each process life opens with ServerStart (a second ServerStart of a host starts
 * a new life) and records ServerListening once, before it receives anything.
 * Clients: each life (one process using the client id; a CLI command with --client-id is
 * one) opens with KvslibStart and ends with at most one KvslibStop, nothing of that life
 * after it; the next life opens with KvslibStart again. A life without KvslibStop is a
 * process that died (killed, Ctrl-C): legitimate, whether the client id is used again or
 * not, and noted (operation-order, history-trace and linearizability take its unanswered
 * operations as outcome unknown: trace.lifeDied).
 */
export function lifecycleRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const notes: string[] = [];
  let inFlight = 0;
  const died: string[] = [];

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
    const lives = trace.clientLives(host);
    if (lives[0][0].tag !== 'KvslibStart') {
      for (const e of lives[0]) offenders.push(at(e, `${e.tag} recorded before ${host}'s first KvslibStart`));
      if (lives.length === 1) offenders.push(at(lives[0][0], `client ${host} never recorded KvslibStart`));
      lives.shift();
    }
    lives.forEach((life, i) => {
      const start = life[0];
      const stops = life.filter((e) => e.tag === 'KvslibStop');
      for (const extra of stops.slice(1)) offenders.push(at(extra, `client ${host} records KvslibStop again in the life begun by ${describe(start)}`));
      if (stops.length > 0) {
        for (const e of life) {
          if (e.tag !== 'KvslibStop' && trace.counter(e) > trace.counter(stops[0])) offenders.push(at(e, `${e.tag} recorded after ${describe(stops[0])} (a new life begins with KvslibStart)`));
        }
        return;
      }
      // No KvslibStop: the process died (killed, Ctrl-C), or, on a run still being written, runs still.
      if (i === lives.length - 1 && trace.live) inFlight++;
      else died.push(`${describe(start)} .. ${describe(life[life.length - 1])}`);
    });
  }
  if (inFlight > 0) notes.push(`${inFlight} clients not yet stopped (run still being written)`);
  if (died.length > 0) notes.push(`${died.length} client lives ended without KvslibStop (the process died: killed or interrupted; their unanswered operations count as outcome unknown), e.g. ${died[0]}`);
  return result('lifecycle', offenders, { note: notes.join('; ') || undefined });
}
