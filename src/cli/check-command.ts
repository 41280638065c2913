import { pathToFileURL } from 'node:url';
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
 */
export function runCheckCommand(dir: string, extraRules: readonly ExtraRule[] = [], io: CheckIo = consoleIo): number {
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
  return runCheckCommand(argv[0], [], io);
}

// Run directly: node --import tsx src/cli/check-command.ts <runDir> (never from inside the
// CLI bundle, where this module shares a file with others).
if (process.argv[1] && import.meta.url.endsWith('/check-command.ts') && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = checkMain(process.argv.slice(2));
}
