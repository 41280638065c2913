import { cap, plural } from './grade.ts';
import { describeFault, FAULT_KINDS } from './schedule.ts';
import { spread } from './recovery.ts';
import type { ChaosResult } from './run.ts';

/** Faults injected by kind, e.g. "kill 3, netsplit 2". */
export function faultsByKind(r: ChaosResult): Record<string, number> {
  const by: Record<string, number> = {};
  for (const k of FAULT_KINDS) {
    const n = r.applied.filter((a) => a.planned.kind === k && a.error === undefined).length;
    if (n > 0) by[k] = n;
  }
  return by;
}

const seconds = (ms: number | null) => (ms === null ? 'never' : `${(ms / 1000).toFixed(2)} s`);

/** The end-of-run text: each fault with its recovery, the counts, the checks and the verdict. */
export function formatSummary(r: ChaosResult, runDir: string): string {
  const lines: string[] = ['', 'faults (recovery: first acknowledged write called after the fault / after its undo):'];
  for (const a of r.applied) {
    const rec = r.recoveries.find((x) => x.fault === a.planned.n);
    lines.push(`  #${a.planned.n} ${describeFault(a.planned, a.servers)}: ${a.error ? `ERROR ${a.error}` : a.detail}; ${((a.endedAt - a.startedAt) / 1000).toFixed(1)} s; recovery ${seconds(rec?.fromStartMs ?? null)} / ${seconds(rec?.fromHealMs ?? null)}`);
  }
  const rec = spread(r.recoveries.map((x) => x.fromStartMs).filter((x): x is number => x !== null));
  const kinds = Object.entries(faultsByKind(r)).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  lines.push(`faults by kind: ${kinds}`);
  lines.push(`operations: ok ${r.counts.ok}, failed ${r.counts.failed}, unknown ${r.counts.unknown}`);
  lines.push(`recovery (fault to next acknowledged write): ${rec ? `min ${seconds(rec.min)}, median ${seconds(rec.median)}, max ${seconds(rec.max)}` : 'n/a'}`);
  if (r.injectedBug) lines.push(`RAFTKV_INJECT_BUG=${r.injectedBug}: the servers ran with a known bug, on purpose`);
  lines.push(`network: ${r.net.mode}${r.net.note ? ` (${r.net.note})` : ''}`);
  for (const g of r.traceGaps) lines.push(`trace incomplete: ${g} (a trace rule may fail for want of the missing records)`);
  if (r.grade.checks.length > 0) lines.push('checks:');
  for (const c of r.grade.checks) {
    lines.push(`  ${c.status.padEnd(4)}  ${c.rule}${c.note ? `  (${c.note})` : ''}`);
    for (const o of c.offenders) lines.push(`        ${cap(o, 600)}`);
  }
  lines.push(`run directory: ${runDir} (chaos.json, history.json${r.options.trace ? ', trace.jsonl, shiviz.log' : ''}, logs/)`);
  if (r.interrupted) {
    // Not a verdict: "FAIL seed" marks violations only.
    lines.push(`INTERRUPTED seed ${r.options.seed}: not graded (${plural(r.applied.length, 'fault')}, ${plural(r.counts.ok + r.counts.failed + r.counts.unknown, 'operation')}, ${r.seconds.toFixed(0)} s)`);
    return lines.join('\n');
  }
  lines.push(
    r.grade.ok
      ? `PASS seed ${r.options.seed}: ${plural(r.applied.length, 'fault')}, ${plural(r.counts.ok + r.counts.failed + r.counts.unknown, 'operation')}, no violation (${r.seconds.toFixed(0)} s)`
      : `FAIL seed ${r.options.seed}: ${r.grade.violations.join('; ')}\n  replay: ${r.injectedBug ? `RAFTKV_INJECT_BUG=${r.injectedBug} ` : ''}raftkv chaos --seed ${r.options.seed} --servers ${r.options.servers} --duration ${r.options.durationMs / 1000}s --faults ${r.options.kinds.join(',')} --clients ${r.options.clients} --keys ${r.options.keys}${r.options.trace ? ' --trace' : ''} --net ${r.options.net}`,
  );
  return lines.join('\n');
}
