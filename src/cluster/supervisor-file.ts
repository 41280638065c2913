import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The runtime file of a running `raftkv cluster up`, beside its cluster.json:
 * `<dataDir>/supervisor.json`. It says where the supervisor's control endpoint is, and
 * what became of each server, rewritten on every change; `cluster down`, `cluster
 * restart|kill` and `status` read it. It is left behind only when the supervisor is
 * killed (-9), and then names pids that `cluster down` stops.
 */
export const SUPERVISOR_FILE = 'supervisor.json';

/**
 * - `starting`: launched, not yet answering;
 * - `up`: running under the supervisor (its child, or adopted: started by hand with `raftkv node`);
 * - `stopped`: down because someone asked (`cluster kill`, `cluster down`);
 * - `died`: exited without being asked to (`exit` says how, when the supervisor could see it).
 */
export type ManagedState = 'starting' | 'up' | 'stopped' | 'died' | 'removed';

export interface ManagedServer {
  state: ManagedState;
  /** The running process; for stopped and died, the last one. */
  pid: number | null;
  /** Kernel start time of `pid` (from /proc), so a reused pid is never taken for it. */
  start?: string;
  /** Started by hand (`raftkv node`) and adopted, not a child of the supervisor. */
  adopted?: boolean;
  exit?: { code: number | null; signal: string | null };
  /** When it entered this state (ISO time). */
  since: string;
}

export interface SupervisorRecord {
  pid: number;
  start?: string;
  /** host:port of the control endpoint (HTTP on 127.0.0.1). */
  control: string;
  /** Bearer token the control endpoint requires: the file is readable by its owner only. */
  token: string;
  /** The cluster.json the servers read. */
  config: string;
  startedAt: string;
  servers: Record<string, ManagedServer>;
}

export function supervisorFile(dataDir: string): string {
  return path.join(path.resolve(dataDir), SUPERVISOR_FILE);
}

export function readSupervisorFile(dataDir: string): SupervisorRecord | null {
  try {
    const rec = JSON.parse(readFileSync(supervisorFile(dataDir), 'utf8')) as SupervisorRecord;
    return Number.isInteger(rec.pid) && typeof rec.control === 'string' && typeof rec.servers === 'object' ? rec : null;
  } catch {
    return null;
  }
}

/** Replaces the file whole (write, then rename), so a reader never sees half of it. */
export function writeSupervisorFile(dataDir: string, rec: SupervisorRecord): void {
  const file = supervisorFile(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(rec, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeSupervisorFile(dataDir: string): void {
  rmSync(supervisorFile(dataDir), { force: true });
}

/**
 * How `status` shows a managed server: "supervised", "adopted" (started by hand, supervised),
 * "starting", "stopped on request", "died (SIGKILL)", "died (exit 1)".
 */
export function describeManaged(m: ManagedServer | undefined): string {
  if (!m) return 'unmanaged';
  switch (m.state) {
    case 'up':
      return m.adopted ? 'adopted' : 'supervised';
    case 'starting':
      return 'starting';
    case 'stopped':
      return 'stopped on request';
    case 'removed':
      return 'removed from the cluster';
    case 'died':
      if (m.exit?.signal) return `died (${m.exit.signal})`;
      if (m.exit?.code !== null && m.exit?.code !== undefined) return `died (exit ${m.exit.code})`;
      return 'died';
  }
}

/** A path as the user would type it: relative to the working directory when under it. */
export function show(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
