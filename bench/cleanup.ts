/**
 * Every process the bench starts is stopped: in `finally` by its owner, on SIGINT/SIGTERM
 * by the handlers here, and at exit (even after an uncaught error) by a last SIGKILL of
 * every pid still registered.
 */

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

type Task = () => Promise<void>;

const tasks = new Set<Task>();
const pidSources = new Set<() => number[]>();
let installed = false;
let interrupted = false;

/** Runs `task` on Ctrl-C; returns a function that unregisters it (call it in finally). */
export function onInterrupt(task: Task): () => void {
  tasks.add(task);
  return () => tasks.delete(task);
}

/** Pids to SIGKILL if the bench exits while they are still listed. */
export function trackPids(source: () => number[]): () => void {
  pidSources.add(source);
  return () => pidSources.delete(source);
}

/**
 * What a bench start registers until it is stopped: `stopFn` runs on Ctrl-C, and the pids
 * given to track() are SIGKILLed if the bench dies first. stop() and fail() unregister both.
 */
export class StartGuard {
  private untrack: () => void = () => {};
  private readonly offInterrupt: () => void;

  constructor(private readonly stopFn: Task) {
    this.offInterrupt = onInterrupt(stopFn);
  }

  track(source: () => number[]): void {
    this.untrack = trackPids(source);
  }

  /** Stops what was started and unregisters it. */
  async stop(): Promise<void> {
    try {
      await this.stopFn();
    } finally {
      this.release();
    }
  }

  /** For a start that failed: stops what was started, then throws `err` with the last lines of each server log in `logDir`. */
  async fail(err: unknown, logDir: string): Promise<never> {
    const tails = logTails(logDir);
    await this.stopFn().catch(() => {});
    this.release();
    throw new Error(`${(err as Error).message}${tails ? `\n${tails}` : ''}`);
  }

  private release(): void {
    this.untrack();
    this.offInterrupt();
  }
}

/** The last 8 lines of each server log in `logDir`, for an error message (they are deleted with the temp dir); '' if none. */
export function logTails(logDir: string): string {
  try {
    return readdirSync(logDir)
      .map((f) => {
        const lines = readFileSync(path.join(logDir, f), 'utf8').trimEnd().split('\n').slice(-8);
        return `--- ${f}\n${lines.join('\n')}`;
      })
      .join('\n');
  } catch {
    return '';
  }
}

export function wasInterrupted(): boolean {
  return interrupted;
}

function killAllNow(): void {
  for (const source of pidSources) {
    for (const pid of source()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      killAllNow();
      process.exit(130);
    }
    interrupted = true;
    console.error(`\n${signal}: stopping every process the bench started...`);
    const all = Promise.allSettled([...tasks].map((t) => t()));
    const timeout = new Promise((r) => setTimeout(r, 8000).unref());
    void Promise.race([all, timeout]).then(() => {
      killAllNow();
      console.error('stopped.');
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
