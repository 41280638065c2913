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
 * replica drops an expired key at the same entry.
 */
export class Store {
  private readonly keys = new Map<string, Stored>();
  private bytes = 0;

  /** Characters of every key and value held (expired-but-not-yet-removed included): about their bytes in memory and in a snapshot. */
  get dataBytes(): number {
    return this.bytes;
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
    this.bytes += key.length + value.length;
  }

  /** Sets the value but keeps a live key's deadline, as a counter bump should. */
  update(key: string, value: string, now: number): void {
    const stored = this.live(key, now);
    if (stored === undefined) return this.put(key, value);
    this.bytes += value.length - stored.value.length;
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
    this.bytes = 0;
    for (const [key, value, deadlineMs] of keys) {
      this.keys.set(key, deadlineMs === undefined ? { value } : { value, deadlineMs });
      this.bytes += key.length + value.length;
    }
  }

  private forget(key: string): void {
    const stored = this.keys.get(key);
    if (stored === undefined) return;
    this.keys.delete(key);
    this.bytes -= key.length + stored.value.length;
  }

  private live(key: string, now: number): Stored | undefined {
    const stored = this.keys.get(key);
    if (stored === undefined || !expired(stored, now)) return stored;
    this.forget(key);
    return undefined;
  }
}

function expired(stored: Stored, now: number): boolean {
  return stored.deadlineMs !== undefined && stored.deadlineMs <= now;
}
