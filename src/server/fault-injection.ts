import fs from 'node:fs';
import { open } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';

/**
 * Process-wide fault injection for chaos runs (`raftkv chaos`, docs/CHAOS.md), set through
 * the admin InjectFault call. It stays outside the Raft core and the storage code: it
 * wraps what they call from Node.
 *
 * - Clock skew (ms): Date.now() in this process returns the wall clock plus the skew, so
 *   whatever reads wall time (request deadlines, the first leader's log-time origin,
 *   leader-contact ages) sees a clock that is off, or jumps when the skew changes. The
 *   monotonic clock (performance.now) is left alone, as NTP leaves CLOCK_MONOTONIC alone.
 * - fsync delay (ms): fs.fsync, fs.fdatasync and FileHandle.sync complete that much later,
 *   a slow disk as etcd's robustness tests model it (their failpoints delay raftBeforeSave).
 *   The ESM bindings of node:fs are refreshed (syncBuiltinESMExports) so modules that
 *   imported them by name see the wrapper too.
 *
 * Zero clears each fault. Nothing is wrapped until a fault is first set.
 */
export interface Faults {
  clockSkewMs: number;
  fsyncDelayMs: number;
}

const faults: Faults = { clockSkewMs: 0, fsyncDelayMs: 0 };
let clockWrapped = false;
let fsyncWrapped = false;

/** The faults in force in this process. */
export function currentFaults(): Faults {
  return { ...faults };
}

/** Replaces the faults in force. Throws RangeError on a non-integer or negative delay. */
export async function setFaults(next: Faults): Promise<void> {
  if (!Number.isSafeInteger(next.clockSkewMs)) throw new RangeError(`clock skew must be an integer number of ms (got ${next.clockSkewMs})`);
  if (!Number.isSafeInteger(next.fsyncDelayMs) || next.fsyncDelayMs < 0 || next.fsyncDelayMs > 60_000) {
    throw new RangeError(`fsync delay must be 0-60000 ms (got ${next.fsyncDelayMs})`);
  }
  faults.clockSkewMs = next.clockSkewMs;
  faults.fsyncDelayMs = next.fsyncDelayMs;
  if (next.clockSkewMs !== 0 && !clockWrapped) wrapClock();
  if (next.fsyncDelayMs !== 0 && !fsyncWrapped) await wrapFsync();
}

function wrapClock(): void {
  clockWrapped = true;
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + faults.clockSkewMs;
}

type Callback = (err: NodeJS.ErrnoException | null) => void;

async function wrapFsync(): Promise<void> {
  fsyncWrapped = true;
  const later = (cb: Callback): Callback => (err) => {
    if (faults.fsyncDelayMs === 0) cb(err);
    else setTimeout(() => cb(err), faults.fsyncDelayMs);
  };
  const realFsync = fs.fsync;
  const realFdatasync = fs.fdatasync;
  (fs as { fsync: unknown }).fsync = (fd: number, cb: Callback) => realFsync(fd, later(cb));
  (fs as { fdatasync: unknown }).fdatasync = (fd: number, cb: Callback) => realFdatasync(fd, later(cb));
  syncBuiltinESMExports();
  // FileHandle is not exported: reach its prototype through a handle on a file that exists.
  const handle = await open(process.execPath, 'r');
  const proto = Object.getPrototypeOf(handle) as { sync: () => Promise<void> };
  await handle.close();
  const realSync = proto.sync;
  proto.sync = async function sync(this: unknown): Promise<void> {
    await realSync.call(this);
    if (faults.fsyncDelayMs > 0) await new Promise((r) => setTimeout(r, faults.fsyncDelayMs));
  };
}
