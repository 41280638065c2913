import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { killCliChildren } from './helpers.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** What a test started with clusterUp: its supervisors (killed by pid) and run dirs (removed). */
export interface UpTracker {
  ups: ChildProcess[];
  temps: string[];
}

/**
 * A tracker for one test file: after its tests, supervisors still running are killed by
 * pid, CLI processes it started are stopped, and the run directories are removed.
 */
export function trackUps(): UpTracker {
  const track: UpTracker = { ups: [], temps: [] };
  afterAll(() => {
    for (const up of track.ups) if (up.exitCode === null && up.signalCode === null && up.pid) process.kill(up.pid, 'SIGKILL');
    killCliChildren();
    for (const d of track.temps) rmSync(d, { recursive: true, force: true });
  });
  return track;
}

/**
 * Runs `raftkv cluster up --config file` (real processes: the supervisor, its servers and
 * tracing server) until it supervises; `stop()` is Ctrl-C and resolves with its output.
 * Returns the trace's run directory (under the checkout's traces/, recorded in `track.temps`
 * for removal). Throws when it does not come up within 60 s or names no trace directory.
 */
export async function clusterUp(file: string, track: UpTracker): Promise<{ runDir: string; stop(): Promise<string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/raftkv.ts', 'cluster', 'up', '--config', file], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  track.ups.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (!/supervising \(pid \d+\)/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`cluster up did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const m = /tracing to (\S+) \(open shiviz.log/.exec(out);
  if (!m) throw new Error(`cluster up names no trace directory:\n${out}`);
  const runDir = path.resolve(REPO, m[1]);
  track.temps.push(runDir);
  return {
    runDir,
    async stop() {
      process.kill(child.pid!, 'SIGINT');
      await exited;
      return out;
    },
  };
}
