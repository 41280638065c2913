/**
 * Every process the bench starts is stopped: in `finally` by its owner, on SIGINT/SIGTERM
 * by the handlers here, and at exit (even after an uncaught error) by a last SIGKILL of
 * every pid still registered.
 */

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
