import { existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { processExists } from '../os/process-exists.ts';

/**
 * An exclusive lock on a data directory, held for the life of the process that opened it.
 *
 * Files in the directory:
 * - `raftkv.lock/` the lock itself: a directory made with mkdir (atomic), by proper-lockfile,
 *   which also removes it when the process exits, by a signal included;
 * - `raftkv.pid` who holds it: `{pid, start, what}` (start: the kernel's start time of that
 *   pid, so a pid reused by another process is not taken for the holder);
 * - `raftkv-gate.lock/` a short-lived lock around taking `raftkv.lock` and writing
 *   `raftkv.pid`, so the pid file always names the holder of `raftkv.lock` and two processes
 *   that find a dead holder's lock at the same time cannot both take it over.
 *
 * A lock whose holder is gone (kill -9, power loss) is taken over at once: proper-lockfile
 * alone would wait out its staleness period, so its mtime-based staleness is set far out
 * and the pid decides.
 */
export const LOCK_NAMES = ['raftkv.lock', 'raftkv.pid', 'raftkv-gate.lock'] as const;

const LOCK = 'raftkv';
const GATE = 'raftkv-gate';
const PID_FILE = 'raftkv.pid';
/** proper-lockfile's staleness by age: never in practice (the pid decides); must stay below 2^31 ms / 2 for its timer. */
const STALE_MS = 24 * 3600 * 1000;
/** How often the holder touches the lock, and so how soon it notices the lock was removed under it. */
const UPDATE_MS = 5000;

export interface DirOwner {
  pid: number;
  /** Start time of the process (from /proc), when the system has /proc. */
  start?: string;
  /** What holds it, for messages: "raftkv node --id server0". */
  what?: string;
}

export class DirInUseError extends Error {
  override name = 'DirInUseError';
  constructor(
    readonly dir: string,
    readonly owner: DirOwner | null,
  ) {
    super(
      owner
        ? `${show(dir)} is in use by pid ${owner.pid}${owner.what ? ` (${owner.what})` : ''}`
        : `${show(dir)} is locked (${path.join(show(dir), `${LOCK}.lock`)} exists) by a process that left no pid file; remove that directory if no raftkv process uses ${show(dir)}`,
    );
  }
}

export interface DirLock {
  readonly dir: string;
  /** Gives the lock up (idempotent); a process that exits without calling it releases it too. */
  release(): Promise<void>;
}

/**
 * Takes the lock on `dir` (creating the directory), or throws DirInUseError naming the
 * holder. `onLost` is called if the lock is removed or replaced under the holder.
 */
export async function lockDataDir(dir: string, what: string, onLost: (err: Error) => void = () => {}): Promise<DirLock> {
  const abs = path.resolve(dir);
  mkdirSync(abs, { recursive: true });
  const mainOptions: lockfile.LockOptions = {
    realpath: false,
    stale: STALE_MS,
    update: UPDATE_MS,
    retries: 0,
    lockfilePath: path.join(abs, `${LOCK}.lock`),
    onCompromised: (err) => onLost(new Error(`the lock on ${show(abs)} was lost: ${err.message}`)),
  };
  const releaseGate = await lockfile.lock(path.join(abs, GATE), {
    realpath: false,
    // The gate is held for a few milliseconds; one left by a process that died holding it
    // is stale after 2 s, and the retries outlast that.
    stale: 2000,
    retries: { retries: 60, minTimeout: 20, maxTimeout: 100, factor: 1.5 },
    onCompromised: () => {},
  });
  try {
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(path.join(abs, LOCK), mainOptions);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      // Under the gate the pid file names the holder (or, if the holder died between taking
      // the lock and writing it, an earlier holder, dead as well).
      const owner = readOwner(abs);
      if (owner === null || isAlive(owner)) throw new DirInUseError(abs, owner);
      rmdirSync(path.join(abs, `${LOCK}.lock`));
      release = await lockfile.lock(path.join(abs, LOCK), mainOptions);
    }
    const me: DirOwner = { pid: process.pid, start: processStart(process.pid), what };
    const tmp = path.join(abs, `${PID_FILE}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(me) + '\n');
    renameSync(tmp, path.join(abs, PID_FILE));
    let released: Promise<void> | null = null;
    // The pid file stays: it names a dead or departed holder, and the next one overwrites it.
    return { dir: abs, release: () => (released ??= release().catch(() => undefined)) };
  } finally {
    await releaseGate().catch(() => undefined);
  }
}

/** The live process holding `dir`'s lock, or null: a check that takes nothing. */
export function dirHolder(dir: string): DirOwner | null {
  const abs = path.resolve(dir);
  if (!existsSync(path.join(abs, `${LOCK}.lock`))) return null;
  const owner = readOwner(abs);
  return owner !== null && isAlive(owner) ? owner : null;
}

function readOwner(dir: string): DirOwner | null {
  try {
    const o = JSON.parse(readFileSync(path.join(dir, PID_FILE), 'utf8')) as DirOwner;
    return Number.isInteger(o.pid) && o.pid > 0 ? o : null;
  } catch {
    return null;
  }
}

/** Whether the process is running and is the one that wrote the record (not a reuse of its pid). */
export function isAlive(owner: DirOwner): boolean {
  if (!processExists(owner.pid)) return false;
  if (!HAS_PROC) return true;
  const stat = procStat(owner.pid);
  if (stat === null) return false;
  if (stat.state === 'Z' || stat.state === 'X') return false; // exited, not yet reaped
  return owner.start === undefined || owner.start === stat.start;
}

const HAS_PROC = existsSync('/proc/self/stat');

/** The kernel's start time of a process (from /proc), to tell it from a later one with the same pid. */
export function processStart(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/** State and start time (field 22) from /proc/<pid>/stat; the command name may hold spaces and parentheses. */
function procStat(pid: number): { state: string; start: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: fields[19] };
  } catch {
    return null;
  }
}

/** A path as the user would type it: relative to the working directory when under it. */
function show(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}
