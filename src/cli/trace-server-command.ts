import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { HISTORY_FILE, HISTORY_LOG } from '../../tracing/history-file.ts';

/** Run directories tried per name before giving up (name, name-2, ... name-100). */
const MAX_SUFFIX = 100;

/**
 * Starts a tracing server writing `<dir>/<run>`. With `unique`, the run directory is
 * claimed with an exclusive mkdir and, if taken (two runs started in the same second:
 * run names have 1 s resolution), `<run>-2`, `<run>-3`, ... so two tracing servers never
 * write one run's files. Throws when no name is free or the directory cannot be made,
 * and when a run name given as is (`--run`) names a directory that holds a run already:
 * starting would empty its files (a tracing server restarted with the same --run lost
 * the run it was restarted to continue).
 */
export async function startTraceServer(opts: { dir: string; run: string; addr: string; unique?: boolean }): Promise<Collector> {
  // Before any run directory is made: a second tracing server on a taken port used to leave
  // an empty run behind, after grpc-js's own "No address added" text.
  await checkAddressFree(opts.addr);
  const dir = opts.unique ? claimRunDir(opts.dir, opts.run) : path.join(opts.dir, opts.run);
  const held = ['shiviz.log', 'trace.jsonl', HISTORY_FILE, HISTORY_LOG].filter((f) => existsSync(path.join(dir, f)));
  if (!opts.unique && held.length > 0) {
    throw new Error(`${dir} already holds a run (${held.join(', ')}), which a new tracing server would overwrite: choose another --run, or leave it out for a fresh name`);
  }
  return startCollector({ dir, addr: opts.addr });
}

/** Throws a sentence naming `addr` when nothing can listen there (taken, or not this machine's); port 0 always passes. */
async function checkAddressFree(addr: string): Promise<void> {
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(addr);
  if (!m || Number(m[2]) === 0) return;
  const [, host, port] = m;
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `${addr} is in use (another tracing server, or another program): choose another --port` : `cannot listen on ${addr}: ${err.message}`)),
    );
    probe.listen({ host, port: Number(port), exclusive: true }, () => probe.close(() => resolve()));
  });
}

function claimRunDir(parent: string, run: string): string {
  mkdirSync(parent, { recursive: true });
  for (let n = 1; n <= MAX_SUFFIX; n++) {
    const dir = path.join(parent, n === 1 ? run : `${run}-${n}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error(`no free run directory for ${path.join(parent, run)} (tried ${MAX_SUFFIX} names)`);
}

/** `raftkv trace-server`: collects until SIGINT/SIGTERM, then flushes its files. */
export async function runTraceServer(opts: { dir: string; run: string; addr: string; unique?: boolean }): Promise<void> {
  const collector = await startTraceServer(opts);
  console.log(`tracing server on ${collector.addr}, writing ${collector.dir}/{shiviz.log,trace.jsonl,history.jsonl} (history.json once stopped)`);
  console.log(`point servers at it with "traceServer": "${collector.addr}" in the cluster config`);
  const stop = async (signal: string) => {
    await collector.stop();
    console.log(`${signal}: flushed ${collector.writer.events} events to ${collector.dir}`);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
