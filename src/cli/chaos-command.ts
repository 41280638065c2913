import { randomInt } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, parseFaultKinds } from '../chaos/schedule.ts';
import type { ChaosOptions, ChaosResult } from '../chaos/run.ts';
import { UsageError, argsErrorMessage, commandUsage } from './usage.ts';

/** `raftkv chaos --help`: its lines of the usage text (usage.ts), which lists FAULT_KINDS. */
const CHAOS_USAGE = commandUsage(['chaos'])!;

/** Exit code of an interrupted run (128 + SIGINT), as shells report Ctrl-C. */
const INTERRUPTED = 130;
/** Exit code of a run stopped because its output was closed (128 + SIGPIPE, as shells report `| head`). */
export const OUTPUT_CLOSED = 141;

/**
 * Stops the run cleanly, as Ctrl-C does, when stdout or stderr is closed under it (EPIPE:
 * `raftkv chaos | head -2`), instead of dying on an unhandled write error with the
 * violation's exit code and its processes and temp dir left behind. Returns whether it
 * happened, and a function that removes the handlers.
 */
export function stopOnClosedOutput(abort: AbortController): { closed: () => boolean; off: () => void } {
  let closed = false;
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    closed = true;
    abort.abort();
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', onError);
  return {
    closed: () => closed,
    off: () => {
      // Left on while the process lives when the output closed: later writes fail the same way.
      if (closed) return;
      process.stdout.off('error', onError);
      process.stderr.off('error', onError);
    },
  };
}

/**
 * `raftkv chaos [...]`: parses the options (node:util parseArgs, as the rest of the CLI),
 * throwing a brief UsageError on bad input: numbers in plain decimal digits, each option
 * at most once, a non-empty --out. Defaults: 5 servers, 30 s, a random seed, every fault
 * kind, 6 clients, 5 keys, no trace, links, traces/chaos/<time>-seed<seed>.
 */
export function parseChaosArgs(argv: string[]): ChaosOptions {
  const valued = ['servers', 'duration', 'seed', 'faults', 'clients', 'keys', 'net', 'out'] as const;
  // parseArgs would call `--seed -1` "ambiguous": say what the option takes instead.
  for (const [i, a] of argv.entries()) {
    const name = a.replace(/^--/, '');
    if (a.startsWith('--') && (valued as readonly string[]).includes(name) && /^-/.test(argv[i + 1] ?? '')) {
      throw new UsageError(/^-\d/.test(argv[i + 1]) ? `${a} takes a non-negative integer in plain decimal digits (got "${argv[i + 1]}")` : `${a} needs a value (got "${argv[i + 1]}")`);
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      tokens: true,
      options: { ...Object.fromEntries(valued.map((v) => [v, { type: 'string' as const }])), trace: { type: 'boolean' } },
    });
  } catch (err) {
    throw new UsageError(argsErrorMessage(err as Error));
  }
  const { positionals, tokens } = parsed;
  const values = parsed.values as Partial<Record<(typeof valued)[number], string>> & { trace?: boolean };
  if (positionals.length > 0) throw new UsageError(`chaos takes only options (got "${positionals.join(' ')}")`);
  const seen = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (seen.has(t.name)) throw new UsageError(`--${t.name} is given twice: give each option once`);
    seen.add(t.name);
  }
  const int = (text: string | undefined, flag: string, dflt: number, min: number, max: number) => {
    if (text === undefined) return dflt;
    // Plain decimal digits only: Number() would take "0x10", "3.0", " 5" and "1e3".
    const n = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max} in plain decimal digits (got "${text}")`);
    return n;
  };
  const servers = int(values.servers, '--servers', 5, 3, 9);
  const seed = int(values.seed, '--seed', randomInt(1, 2 ** 31), 0, 2 ** 32 - 1);
  const net = values.net ?? 'links';
  if (net !== 'links' && net !== 'namespaces') throw new UsageError(`--net takes "links" or "namespaces" (got "${net}")`);
  if (values.out !== undefined && values.out.trim() === '') throw new UsageError('--out needs a directory (got "")');
  let kinds;
  try {
    kinds = parseFaultKinds(values.faults ?? FAULT_KINDS.join(','));
  } catch (err) {
    throw new UsageError(argsErrorMessage(err as Error));
  }
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '-');
  return {
    servers,
    durationMs: parseDuration(values.duration ?? '30s'),
    seed,
    kinds,
    clients: int(values.clients, '--clients', 6, 1, 32),
    keys: int(values.keys, '--keys', 5, 1, 100),
    trace: values.trace ?? false,
    net,
    outDir: values.out ?? path.join('traces', 'chaos', `${stamp}-seed${seed}`),
  };
}

/** `30s`, `2m`, `1500ms` or a bare number of seconds (`20` is 20 s), as ms; UsageError otherwise or outside 5 s - 1 h. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) throw new UsageError(`--duration takes a time like 30s, 2m or 1500ms (got "${text}")`);
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (ms < 5000 || ms > 3_600_000) throw new UsageError(`--duration must be from 5s to 60m (got "${text}")`);
  return Math.round(ms);
}

/**
 * Runs `raftkv chaos`: prints the schedule, progress, and the summary; returns 0 when every
 * check passed, 1 on a violation (the seed printed to replay it), 130 when interrupted,
 * 141 when its output was closed. Ctrl-C and a closed output stop the run and remove
 * everything it made.
 */
export async function runChaosCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(CHAOS_USAGE);
    return 0;
  }
  let opts: ChaosOptions;
  try {
    opts = parseChaosArgs(argv);
  } catch (err) {
    // chaos's own usage, not raftkv's.
    throw err instanceof UsageError ? new UsageError(`${err.message}\n\n${CHAOS_USAGE}`) : err;
  }
  const { runChaos } = await import('../chaos/run.ts');
  const { formatSummary } = await import('../chaos/summary.ts');
  const abort = new AbortController();
  const onSignal = () => {
    if (!abort.signal.aborted) console.log('\ninterrupted: healing, stopping every process and removing namespaces (Ctrl-C again to force)');
    else process.exit(INTERRUPTED);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const output = stopOnClosedOutput(abort);
  let result: ChaosResult;
  try {
    result = await runChaos(opts, (line) => output.closed() || console.log(`[chaos] ${line}`), abort.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    output.off();
  }
  if (output.closed()) return OUTPUT_CLOSED;
  console.log(formatSummary(result, path.relative(process.cwd(), path.resolve(opts.outDir)) || '.'));
  if (result.interrupted) return INTERRUPTED;
  return result.grade.ok ? 0 : 1;
}
