import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SCENARIOS } from '../../scenarios/index.ts';
import type { ScenarioDef } from '../../scenarios/scenario.ts';
import { LoadError } from '../../tracing/check/load.ts';
import { formatReport, runChecks, type ExtraRule } from '../../tracing/check/report.ts';

const CHECK_USAGE = 'usage: raftkv check <runDir>   grade a traced run (trace.jsonl, shiviz.log, history.json, meta.json)';

/** `raftkv check --help`: the command's own help, not the CLI's. */
export const CHECK_HELP = `${CHECK_USAGE}

  <runDir> is a run directory (traces/<run>/), or a file inside one (its directory is used).
  Runs the general rules of docs/TRACING.md (and a demo scenario's own rules when meta.json
  names one) and prints one line per rule with its offenders.
  A run still being written (a traced cluster up that is running) is graded up to a point
  both files reached; operations in flight and clients not yet stopped are not judged.
  Exit codes: 0 every rule passed (or was skipped), 1 some rule failed (a
  trace.jsonl that is there but damaged or empty fails the files rule),
  2 usage error, no run directory, or no trace.jsonl in it.`;

interface CheckIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const consoleIo: CheckIo = { out: (t) => console.log(t), err: (t) => console.error(t) };

/**
 * `raftkv check <runDir>`: prints the report; returns the exit code: 0 every rule passed
 * (or was skipped), 1 some rule failed (a damaged trace.jsonl fails `files`), 2 usage error or no trace.jsonl.
 * Without `extraRules`, a demo scenario's run is graded with that scenario's own rules
 * too (its meta.json names it), as the scenario run graded it.
 */
export function runCheckCommand(arg: string, extraRules?: readonly ExtraRule[], io: CheckIo = consoleIo): number {
  const dir = runDirOf(arg);
  if ('error' in dir) {
    io.err(`raftkv check: ${dir.error}`);
    return 2;
  }
  const scenario = extraRules === undefined ? scenarioOf(dir.dir) : null;
  if (extraRules === undefined) extraRules = scenario?.traceRules ?? [];
  try {
    const report = runChecks(dir.dir, extraRules);
    const preamble: string[] = [];
    if (dir.note) preamble.push(dir.note);
    if (scenario && extraRules.length > 0) {
      // The names the rules give their results: a function's own name may be mangled by the bundler.
      const names = report.results.slice(report.results.length - extraRules.length).map((r) => r.rule);
      preamble.push(`with the rules of scenario ${scenario.name}: ${names.join(', ')}`);
    }
    io.out(formatReport(report, preamble));
    return report.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof LoadError) {
      io.err(`raftkv check: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

/**
 * The run directory `arg` names: the directory itself, or the directory of a file in it
 * (`raftkv check traces/run/trace.jsonl`), with a note saying so. An error (for exit 2)
 * when nothing is there, or when a file's directory holds no trace.jsonl.
 */
export function runDirOf(arg: string): { dir: string; note?: string } | { error: string } {
  let isDir: boolean;
  try {
    isDir = statSync(arg).isDirectory();
  } catch {
    return { error: `no run directory ${arg}` };
  }
  if (isDir) return { dir: arg };
  const dir = path.dirname(arg);
  try {
    statSync(path.join(dir, 'trace.jsonl'));
  } catch {
    return { error: `${arg} is a file, not a run directory (expected a directory holding trace.jsonl)` };
  }
  return { dir, note: `${arg} is a file: checking its run directory ${dir}` };
}

/** The command line after `check`: exactly one run directory, or --help. */
export function checkMain(argv: readonly string[], io: CheckIo = consoleIo): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(CHECK_HELP);
    return 0;
  }
  if (argv.length !== 1 || argv[0].startsWith('-')) {
    io.err(`raftkv check: expected one run directory\n${CHECK_USAGE}`);
    return 2;
  }
  return runCheckCommand(argv[0], undefined, io);
}

/**
 * The demo scenario a run directory's meta.json names (`scenario`, written by the
 * harness), so `raftkv check` grades its own rules too, with the verdict the scenario run
 * gave; null for other runs (a cluster's, a bench's) or an unknown name.
 */
export function scenarioOf(dir: string): ScenarioDef | null {
  try {
    const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { scenario?: unknown };
    return SCENARIOS.find((s) => s.name === meta.scenario) ?? null;
  } catch {
    return null;
  }
}

// Run directly: node --import tsx src/cli/check-command.ts <runDir> (never from inside the
// CLI bundle, where this module shares a file with others).
if (process.argv[1] && import.meta.url.endsWith('/check-command.ts') && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = checkMain(process.argv.slice(2));
}
