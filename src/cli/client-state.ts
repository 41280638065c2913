import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClientOp } from '../kv/command.ts';
import { UsageError } from './usage.ts';
import { processExists } from '../os/process-exists.ts';

/**
 * A CLI client identity that outlives one process (`--client-id c1`), so that a retry is
 * the same operation: servers answer a repeated (clientId, opId) from their session
 * table instead of applying it again. Each identity has a small file,
 * <stateDir>/clients/<clientId>.json: the next opId to use, and the one operation whose
 * outcome is not known yet, if any. A lock file beside it keeps two processes from using
 * one identity at once (they would take the same opId).
 */

/** Where client state lives: $RAFTKV_STATE_DIR, else $XDG_STATE_HOME/raftkv, else ~/.local/state/raftkv. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RAFTKV_STATE_DIR) return path.resolve(env.RAFTKV_STATE_DIR);
  if (env.XDG_STATE_HOME) return path.join(env.XDG_STATE_HOME, 'raftkv');
  return path.join(os.homedir(), '.local', 'state', 'raftkv');
}

/** A client id is also a file name: letters, digits, '.', '_', '-', at most 64, not starting with '.' or '-'. */
const CLIENT_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

export function checkClientId(id: string): void {
  if (!CLIENT_ID.test(id)) {
    throw new UsageError(`--client-id must be 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-' (got "${id}")`);
  }
}

export interface UnfinishedOp {
  opId: number;
  op: ClientOp;
  /** As the user typed it, for messages: "incr visits". */
  command: string;
  /** When it was first sent (ms since the epoch): a retry is safe only within the servers' session bound. */
  since: number;
}

interface StateFile {
  clientId: string;
  nextOpId: number;
  unfinished: UnfinishedOp | null;
  /**
   * Made up by the CLI for one run that ended unknown. Its file stays once that operation
   * is finished, as any identity's does: the id may be used again (`--client-id`), and a
   * state that started over at operation 1 would have the servers answer new operations
   * from their record of the old ones, applying nothing.
   */
  generated?: boolean;
}

export class ClientState {
  private constructor(
    private readonly file: string,
    private readonly lock: string | null,
    private state: StateFile,
  ) {}

  /** Opens (or creates) the identity's state and locks it; throws a UsageError if another process holds it. */
  static open(dir: string, clientId: string): ClientState {
    checkClientId(clientId);
    const clients = path.join(dir, 'clients');
    mkdirSync(clients, { recursive: true });
    const lock = path.join(clients, `${clientId}.lock`);
    takeLock(lock, clientId);
    const file = path.join(clients, `${clientId}.json`);
    try {
      return new ClientState(file, lock, readState(file, clientId));
    } catch (err) {
      rmSync(lock, { force: true });
      throw err;
    }
  }

  /** Records an operation whose outcome is unknown for an identity the CLI made up (no lock: no one else knows the id). */
  static saveGenerated(dir: string, clientId: string, unfinished: UnfinishedOp): void {
    const clients = path.join(dir, 'clients');
    mkdirSync(clients, { recursive: true });
    const s = new ClientState(path.join(clients, `${clientId}.json`), null, { clientId, nextOpId: unfinished.opId + 1, unfinished, generated: true });
    s.save();
  }

  get unfinished(): UnfinishedOp | null {
    return this.state.unfinished;
  }

  /** Takes the next opId for a write and records it as unfinished, durably, before it is sent. */
  begin(op: ClientOp, command: string): number {
    const opId = this.state.nextOpId;
    this.state = { ...this.state, nextOpId: opId + 1, unfinished: { opId, op, command, since: Date.now() } };
    this.save();
    return opId;
  }

  /** Takes the next opId for a read (nothing to finish: a read changes nothing). */
  take(): number {
    const opId = this.state.nextOpId;
    this.state = { ...this.state, nextOpId: opId + 1 };
    this.save();
    return opId;
  }

  /** The unfinished operation has a known outcome now. */
  finish(): void {
    if (this.state.unfinished === null) return;
    this.state = { ...this.state, unfinished: null };
    this.save();
  }

  release(): void {
    if (this.lock) rmSync(this.lock, { force: true });
  }

  /** Write, fsync, rename, fsync the directory: a crash never leaves an opId to be used twice. */
  private save(): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify(this.state, null, 2) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    const dirFd = openSync(path.dirname(this.file), 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

function readState(file: string, clientId: string): StateFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { clientId, nextOpId: 1, unfinished: null };
    throw new UsageError(`cannot read the state of client ${clientId} (${file}): ${(err as Error).message}`, true);
  }
  let raw: Partial<StateFile>;
  try {
    raw = JSON.parse(text) as Partial<StateFile>;
  } catch (err) {
    throw new UsageError(`the state of client ${clientId} (${file}) is not valid JSON: ${(err as Error).message}`, true);
  }
  if (raw.clientId !== clientId || !Number.isSafeInteger(raw.nextOpId) || (raw.nextOpId as number) < 1) {
    throw new UsageError(`the state of client ${clientId} (${file}) is not a raftkv client state file`, true);
  }
  return { clientId, nextOpId: raw.nextOpId as number, unfinished: raw.unfinished ?? null, ...(raw.generated ? { generated: true } : {}) };
}

/** Creates the lock file with our pid; a lock whose process is gone is taken over. */
function takeLock(lock: string, clientId: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number(readFileSync(lock, 'utf8').trim());
    // Empty: its owner is between creating and writing it.
    if (!Number.isInteger(pid) || pid <= 0 || processExists(pid)) {
      throw new UsageError(`client ${clientId} is in use by another raftkv (pid ${pid}); one identity runs one command at a time (lock: ${lock})`, true);
    }
    rmSync(lock, { force: true });
  }
  throw new UsageError(`cannot lock client ${clientId} (${lock})`, true);
}

