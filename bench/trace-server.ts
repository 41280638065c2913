import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { USAGE } from '../src/cli/usage.ts';
import { trackPids } from './cleanup.ts';
import { freePorts, waitForPort } from './system.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));

export interface RunningTraceServer {
  /** host:port, written into config.traceServer. */
  addr: string;
  /** Also point the bench's KvClients at it (default true: a traced deployment traces clients too). */
  clientTraces?: boolean;
  /** Pids of its processes (for CPU accounting), if any. */
  pids?(): number[];
  stop(): Promise<void>;
}

/**
 * Starts a tracing server that writes under `dir`. The traced row of the bench runs only
 * when one of these is given (runBench({ traceServer }) or --trace-cmd).
 */
export type TraceServerStarter = (dir: string) => Promise<RunningTraceServer>;

/**
 * The starter for `raftkv trace-server` when the CLI has it (its usage text lists
 * `trace-server [--port P] [--data <dir>] [--run <name>]`); otherwise null with the reason,
 * and the bench skips the traced row with that note.
 */
export function defaultTraceServer(): { starter: TraceServerStarter | null; note: string } {
  if (!/trace-server \[--port P\] \[--data/.test(USAGE)) {
    return { starter: null, note: 'no `raftkv trace-server --port P --data DIR` in the CLI yet; pass --trace-cmd to enable the traced row' };
  }
  const cmd = 'node --import tsx src/cli/raftkv.ts trace-server --port {port} --data {dir} --run bench';
  return { starter: commandStarter(cmd), note: `raftkv trace-server (${cmd})` };
}

/**
 * A starter that runs `command` (split on whitespace, no shell), with {port} replaced by a
 * free 127.0.0.1 port, {addr} by 127.0.0.1:{port} and {dir} by the trace directory, and
 * waits until the port accepts connections. Relative paths resolve against the repo root.
 * Stopped by pid (SIGTERM, then SIGKILL after 3 s).
 */
export function commandStarter(command: string): TraceServerStarter {
  return async (dir: string) => {
    const [port] = await freePorts(1);
    const addr = `127.0.0.1:${port}`;
    const argv = command.trim().split(/\s+/).map((a) => a.replaceAll('{addr}', addr).replaceAll('{port}', String(port)).replaceAll('{dir}', dir));
    const log = openSync(path.join(dir, 'trace-server.log'), 'a');
    const child: ChildProcess = spawn(argv[0] === 'node' ? process.execPath : argv[0], argv.slice(1), {
      cwd: REPO,
      stdio: ['ignore', log, log],
      env: { ...process.env, RAFTKV_PARENT_PID: String(process.pid) },
    });
    closeSync(log);
    let alive = true;
    const exited = new Promise<void>((r) => child.once('exit', () => {
      alive = false;
      r();
    }));
    const untrack = trackPids(() => (alive && child.pid ? [child.pid] : []));
    const stop = async () => {
      if (alive) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      untrack();
    };
    try {
      await waitForPort(addr, 15_000, () => alive);
    } catch (err) {
      await stop();
      throw new Error(`trace server (${argv.join(' ')}) did not start: ${(err as Error).message}; log: ${path.join(dir, 'trace-server.log')}`);
    }
    return { addr, stop, pids: () => (alive && child.pid ? [child.pid] : []) };
  };
}
