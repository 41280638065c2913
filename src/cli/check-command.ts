import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SCENARIOS } from '../../scenarios/index.ts';
import type { ScenarioDef } from '../../scenarios/scenario.ts';
import { LoadError } from '../../tracing/check/load.ts';
import { formatReport, runChecks, type ExtraRule } from '../../tracing/check/report.ts';

const CHECK_USAGE = 'usage: raftkv check <runDir>   grade a traced run (trace.jsonl, shiviz.log, history.json, meta.json)';

interface CheckIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const consoleIo: CheckIo = { out: (t) => console.log(t), err: (t) => console.error(t) };

/**
 * `raftkv check <runDir>`: prints the report; returns the exit code: 0 every rule passed
 * (or was skipped), 1 some rule failed, 2 usage error or trace.jsonl missing/unreadable.
 * Without `extraRules`, a demo scenario's run is graded with that scenario's own rules
 * too (its meta.json names it), as the scenario run graded it.
 */
export function runCheckCommand(dir: string, extraRules?: readonly ExtraRule[], io: CheckIo = consoleIo): number {
  if (extraRules === undefined) {
    const scenario = scenarioOf(dir);
    extraRules = scenario?.traceRules ?? [];
    if (scenario && extraRules.length > 0) io.out(`with the rules of scenario ${scenario.name}: ${extraRules.map((r) => r.name).join(', ')}`);
  }
  try {
    const report = runChecks(dir, extraRules);
    io.out(formatReport(report));
    return report.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof LoadError) {
      io.err(`raftkv check: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

/** The command line after `check`: exactly one run directory. */
export function checkMain(argv: readonly string[], io: CheckIo = consoleIo): number {
  if (argv.length !== 1 || argv[0].startsWith('-')) {
    io.err(argv.includes('--help') || argv.includes('-h') ? CHECK_USAGE : `raftkv check: expected one run directory\n${CHECK_USAGE}`);
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
