/**
 * Many chaos runs, one seed each, and a table of them (docs/CHAOS.md):
 *
 *   npm run chaos -- --runs 5 --duration 15s            # CI's budget
 *   npm run chaos -- --runs 20 --duration 30s --net namespaces --trace
 *   npm run chaos -- --runs 3 --seed 100                # seeds 100, 101, 102
 *
 * Every other option is `raftkv chaos`'s. Runs go to traces/chaos/runs-<time>/seed-<seed>/.
 * Exit 0 when no run had a violation; 1 otherwise, with each failing seed and the
 * command that replays it; 2 on bad arguments; 130 on Ctrl-C; 141 when the output was
 * closed (piped into head): the run in progress is stopped as on Ctrl-C.
 */
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { OUTPUT_CLOSED, parseChaosArgs, stopOnClosedOutput } from '../src/cli/chaos-command.ts';
import { UsageError } from '../src/cli/usage.ts';
import { runChaos, type ChaosResult } from '../src/chaos/run.ts';
import { spread } from '../src/chaos/recovery.ts';
import { faultsByKind, formatSummary } from '../src/chaos/summary.ts';

const USAGE = 'usage: npm run chaos -- --runs N [--seed FIRST] [raftkv chaos options: --servers --duration --faults --clients --keys --trace --net --out <dir>]';

function takeRuns(argv: string[]): { runs: number; rest: string[]; seedGiven: boolean; outGiven: boolean } {
  const rest = [...argv];
  const i = rest.indexOf('--runs');
  let runs = 1;
  if (i >= 0) {
    const n = Number(rest[i + 1]);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`--runs takes a number of runs from 1 to 1000 (got "${rest[i + 1] ?? ''}")`);
    runs = n;
    rest.splice(i, 2);
  }
  return { runs, rest, seedGiven: rest.includes('--seed'), outGiven: rest.includes('--out') };
}

const secs = (ms: number) => (ms / 1000).toFixed(2);

function row(r: ChaosResult): string[] {
  const rec = spread(r.recoveries.map((x) => x.fromStartMs).filter((x): x is number => x !== null));
  const kinds = Object.entries(faultsByKind(r)).map(([k, n]) => `${k} ${n}`).join(', ') || '-';
  const stuck = r.grade.checks.find((c) => c.rule === 'not stuck')?.status === 'FAIL';
  const violations = r.grade.violations.length;
  return [
    String(r.options.seed),
    kinds,
    `${r.counts.ok}/${r.counts.failed}/${r.counts.unknown}`,
    String(violations),
    String(r.grade.lost.length),
    stuck ? 'STUCK' : 'no',
    rec ? `${secs(rec.min)} / ${secs(rec.median)} / ${secs(rec.max)} s` : '-',
    r.grade.ok ? 'PASS' : 'FAIL',
  ];
}

function table(rows: string[][]): string {
  const head = ['seed', 'faults by kind', 'ops ok/failed/unknown', 'violations', 'lost acked writes', 'stuck', 'recovery min / median / max', 'verdict'];
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((l) => l[i].length)));
  const fmt = (l: string[]) => `| ${l.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [fmt(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(fmt)].join('\n');
}

/** The options of this invocation without --seed and --out, to replay one seed. */
function replayArgs(rest: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--seed' || rest[i] === '--out') i++;
    else out.push(rest[i]);
  }
  return out.join(' ');
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const { runs, rest, seedGiven, outGiven } = takeRuns(argv);
  const base = parseChaosArgs(rest);
  const firstSeed = seedGiven ? base.seed : randomInt(1, 2 ** 31 - runs);
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
  const root = outGiven ? base.outDir : path.join('traces', 'chaos', `runs-${stamp}`);
  const abort = new AbortController();
  const onSignal = () => (abort.signal.aborted ? process.exit(130) : abort.abort());
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const output = stopOnClosedOutput(abort);
  const results: ChaosResult[] = [];
  for (let k = 0; k < runs && !abort.signal.aborted; k++) {
    const seed = (firstSeed + k) >>> 0;
    const outDir = path.join(root, `seed-${seed}`);
    console.log(`\n=== run ${k + 1}/${runs}: seed ${seed} ===`);
    const r = await runChaos({ ...base, seed, outDir }, (line) => output.closed() || console.log(`[seed ${seed}] ${line.replace(`seed ${seed}: `, '')}`), abort.signal);
    if (output.closed()) return OUTPUT_CLOSED;
    console.log(formatSummary(r, outDir));
    // A run cut short by Ctrl-C was not graded: the table holds the finished ones.
    if (!r.interrupted) results.push(r);
  }
  const seconds = results.reduce((s, r) => s + r.seconds, 0);
  const allRec = spread(results.flatMap((r) => r.recoveries.map((x) => x.fromStartMs).filter((x): x is number => x !== null)));
  const totals: Record<string, number> = {};
  for (const r of results) for (const [k, n] of Object.entries(faultsByKind(r))) totals[k] = (totals[k] ?? 0) + n;
  console.log(`\n${table(results.map(row))}`);
  console.log(
    `\n${results.length} runs (${(seconds / 60).toFixed(1)} min, ${base.durationMs / 1000} s of faults each, net ${results[0]?.net.mode ?? base.net}${base.trace ? ', traced' : ''}): ` +
      `faults ${Object.entries(totals).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}; ` +
      `violations ${results.reduce((s, r) => s + r.grade.violations.length, 0)}, lost acked writes ${results.reduce((s, r) => s + r.grade.lost.length, 0)}, ` +
      `stuck ${results.filter((r) => r.grade.checks.some((c) => c.rule === 'not stuck' && c.status === 'FAIL')).length}; ` +
      (base.trace ? `runs with an incomplete trace ${results.filter((r) => r.traceGaps.length > 0).length}; ` : '') +
      `recovery ${allRec ? `min ${secs(allRec.min)} s, median ${secs(allRec.median)} s, max ${secs(allRec.max)} s` : '-'}`,
  );
  if (abort.signal.aborted) {
    console.log('interrupted: the run in progress was stopped and left out of the table');
    return 130;
  }
  const failed = results.filter((r) => !r.grade.ok);
  for (const r of failed) console.log(`FAIL seed ${r.options.seed}: ${r.grade.violations.join('; ')} (replay: raftkv chaos --seed ${r.options.seed} ${replayArgs(rest)})`);
  return failed.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err instanceof UsageError ? `chaos: ${err.message}\n${USAGE}` : (err.stack ?? err.message));
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
