import { DeadlineHeap } from './deadline-heap.ts';
import type { SnapshotKey } from './snapshot-format.ts';

interface Stored {
  value: string;
  deadlineMs?: number;
}

export interface StoredEntry {
  key: string;
  value: string;
  deadlineMs?: number;
}

/**
 * The key space. No timer ever removes a key: a key is absent from the moment `now`
 * reaches its deadline, and the writing methods take `now` in log time so that every
 * replica drops an expired key at the same entry; sweep(), called as each command is
 * applied, removes the expired ones, so they stop taking memory, snapshot and quota.
 */
export class Store {
  private readonly keys = new Map<string, Stored>();
  /** Keys with a deadline, soonest first (stale entries skipped as they come up). */
  private readonly deadlines = new DeadlineHeap();
  private bytes = 0;

  /**
   * UTF-8 bytes of every key and value held (an expired key until the next sweep): what a
   * quota on the data compares, about what they take in a snapshot.
   */
  get dataBytes(): number {
    return this.bytes;
  }

  /**
   * Removes every key whose deadline is at or before `now` (log time). Deterministic: every
   * replica calls it at the same entries with the same `now`. O(log n) per key removed.
   */
  sweep(now: number): void {
    while (this.deadlines.peek() <= now) {
      const { key, deadlineMs } = this.deadlines.pop()!;
      // Skip stale entries: the key was removed, rewritten (a new lease) or given another deadline.
      if (this.keys.get(key)?.deadlineMs === deadlineMs) this.forget(key);
    }
  }

  /**
   * Never removes anything: a reader's `now` may run ahead of log time, and removing on
   * its say-so would let this replica's state drift from the others'.
   */
  get(key: string, now: number): string | undefined {
    const stored = this.keys.get(key);
    return stored !== undefined && !expired(stored, now) ? stored.value : undefined;
  }

  /** Sets the value and forgets any ttl: a new value is a new lease. */
  put(key: string, value: string): void {
    this.forget(key);
    this.keys.set(key, { value });
    this.bytes += utf8(key) + utf8(value);
  }

  /** Sets the value but keeps a live key's deadline, as a counter bump should. */
  update(key: string, value: string, now: number): void {
    const stored = this.live(key, now);
    if (stored === undefined) return this.put(key, value);
    this.bytes += utf8(value) - utf8(stored.value);
    stored.value = value;
  }

  /** The value removed, if the key was live. */
  delete(key: string, now: number): string | undefined {
    const stored = this.live(key, now);
    this.forget(key);
    return stored?.value;
  }

  /** False if there is no live key to expire. */
  expire(key: string, deadlineMs: number, now: number): boolean {
    const stored = this.live(key, now);
    if (stored === undefined) return false;
    stored.deadlineMs = deadlineMs;
    this.deadlines.push(deadlineMs, key);
    return true;
  }

  /** Everything held, expired-but-not-yet-removed keys included, in key order. */
  entries(): StoredEntry[] {
    return [...this.keys]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, s]) => (s.deadlineMs === undefined ? { key, value: s.value } : { key, value: s.value, deadlineMs: s.deadlineMs }));
  }

  /** Every key as [key, value, deadlineMs?], expired-but-not-yet-removed ones included (a snapshot must keep them: removal happens at an entry). */
  dump(): SnapshotKey[] {
    const out: SnapshotKey[] = [];
    for (const [key, s] of this.keys) out.push(s.deadlineMs === undefined ? [key, s.value] : [key, s.value, s.deadlineMs]);
    return out;
  }

  /** Replaces everything held with `keys` (from dump()). */
  load(keys: SnapshotKey[]): void {
    this.keys.clear();
    this.deadlines.clear();
    this.bytes = 0;
    for (const [key, value, deadlineMs] of keys) {
      this.keys.set(key, deadlineMs === undefined ? { value } : { value, deadlineMs });
      if (deadlineMs !== undefined) this.deadlines.push(deadlineMs, key);
      this.bytes += utf8(key) + utf8(value);
    }
  }

  private forget(key: string): void {
    const stored = this.keys.get(key);
    if (stored === undefined) return;
    this.keys.delete(key);
    this.bytes -= utf8(key) + utf8(stored.value);
  }

  private live(key: string, now: number): Stored | undefined {
    const stored = this.keys.get(key);
    if (stored === undefined || !expired(stored, now)) return stored;
    this.forget(key);
    return undefined;
  }
}

function utf8(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function expired(stored: Stored, now: number): boolean {
  return stored.deadlineMs !== undefined && stored.deadlineMs <= now;
}
