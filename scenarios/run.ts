import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatOffender, runChecks } from '../tracing/check/report.ts';
import { writeReport } from '../tracing/report/write-report.ts';
import { runScenarioScript } from './harness.ts';
import { SCENARIOS } from './index.ts';
import type { ScenarioDef } from './scenario.ts';

interface Row {
  name: string;
  passed: number;
  total: number;
  events: number;
  seconds: number;
  ok: boolean;
  runDir: string;
}

/** Runs one scenario: its script, then every check; prints PASS/FAIL per rule and a summary line. */
async function runOne(def: ScenarioDef): Promise<Row> {
  const tag = def.name.slice(0, 3).replace(/-$/, '');
  const log = (line: string) => console.log(`[${tag}] ${line}`);
  log(`${def.name}: ${def.summary}`);
  const run = await runScenarioScript(def.name, def.size, (ctx) => def.run(ctx), log, def.config);
  const results = run.expectations.map((e) => ({ rule: `scenario: ${e.name}`, pass: e.pass, detail: e.detail }));
  if (run.error) results.push({ rule: 'scenario: every step completed', pass: false, detail: run.error.split('\n')[0] });
  let events = 0;
  try {
    const report = runChecks(run.runDir, def.traceRules);
    events = countEvents(run.runDir);
    for (const r of report.results) {
      const detail = r.status === 'FAIL' ? r.offenders.slice(0, 3).map(formatOffender).join('; ') : r.note ?? 'ok';
      results.push({ rule: `trace: ${r.rule}`, pass: r.status !== 'FAIL', detail });
    }
    try {
      // The page's rule table shows the scenario's own expectations first, as printed here.
      const own = results.filter((r) => r.rule.startsWith('scenario: ')).map((r) => ({ rule: r.rule, status: r.pass ? ('PASS' as const) : ('FAIL' as const), offenders: [], count: 0, note: r.detail }));
      writeReport(run.runDir, { report: { ...report, results: [...own, ...report.results], ok: report.ok && own.every((r) => r.status === 'PASS') } });
    } catch (err) {
      log(`report.html not written: ${(err as Error).message}`);
    }
  } catch (err) {
    results.push({ rule: 'trace: readable', pass: false, detail: (err as Error).message });
  }
  for (const r of results) log(`  ${r.pass ? 'PASS' : 'FAIL'}  ${r.rule} (${r.detail})`);
  const passed = results.filter((r) => r.pass).length;
  const row = { name: def.name, passed, total: results.length, events, seconds: run.seconds, ok: passed === results.length, runDir: run.runDir };
  log(`${row.ok ? 'PASS' : 'FAIL'} ${def.name}: ${passed}/${results.length} rules, ${row.events} events, ${row.seconds.toFixed(1)} s, trace in ${path.relative(process.cwd(), run.runDir)}/`);
  return row;
}

function countEvents(runDir: string): number {
  return readFileSync(path.join(runDir, 'trace.jsonl'), 'utf8').split('\n').filter(Boolean).length;
}

function printTable(rows: Row[]): void {
  const lines = [['scenario', 'result', 'rules passed', 'events', 'time'], ...rows.map((r) => [r.name, r.ok ? 'PASS' : 'FAIL', `${r.passed}/${r.total}`, String(r.events), `${r.seconds.toFixed(1)} s`])];
  const widths = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  const fmt = (l: string[]) => `| ${l.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(['', fmt(lines[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.slice(1).map(fmt)].join('\n'));
}

async function main(args: string[]): Promise<number> {
  const wanted = args.filter((a) => !a.startsWith('-'));
  const selected = wanted.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => wanted.some((w) => s.name.startsWith(w.replace(/^(\d)(?!\d)/, '0$1')) || s.name === w));
  if (selected.length === 0) {
    console.error(`no scenario matches ${wanted.join(' ')}; scenarios:\n${SCENARIOS.map((s) => `  ${s.name}  ${s.summary}`).join('\n')}`);
    return 2;
  }
  const rows: Row[] = [];
  for (const [i, def] of selected.entries()) {
    if (selected.length > 1) console.log(`\n=== ${i + 1}/${selected.length} ===`);
    rows.push(await runOne(def));
  }
  if (selected.length > 1) printTable(rows);
  const failed = rows.filter((r) => !r.ok).length;
  console.log(`\n${rows.length - failed} passed, ${failed} failed`);
  const report = path.relative(process.cwd(), path.join(rows.length === 1 ? rows[0].runDir : path.join(path.dirname(rows[0].runDir), '<scenario>'), 'report.html'));
  console.log(`reports: ${report} (one HTML page per run, to open in a browser; raftkv report <runDir> writes one for any run)`);
  return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(2);
  },
);
