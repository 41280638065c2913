import type { Entry } from '../raft/types.ts';
import { decodeCommand, validateOp, type Op, type OpResult, type ReadOp } from './command.ts';
import { SessionTable, type SessionView } from './sessions.ts';
import { decodeKvSnapshot, encodeKvSnapshot, type SnapshotMembership } from './snapshot-format.ts';
import { Store, type StoredEntry } from './store.ts';

/** The outcome of one applied command; the ids are null when the entry could not be decoded. */
export interface ApplyResult {
  index: number;
  clientId: string | null;
  opId: number | null;
  result: OpResult;
  /** A retry of an operation already applied: answered from the session table, not executed. */
  duplicate: boolean;
}

interface KvSnapshot {
  lastApplied: number;
  logicalNow: number;
  keys: StoredEntry[];
  sessions: SessionView[];
}

const INTEGER = /^-?\d+$/;

/**
 * Applies committed entries, in log order, identically on every replica: its only clock
 * is log time (the largest `ts` applied so far), never this process's wall clock.
 */
export class KvStateMachine {
  private readonly store = new Store();
  private readonly sessions = new SessionTable();
  private applied = 0;
  private now = 0;

  get lastApplied(): number {
    return this.applied;
  }

  get logicalNow(): number {
    return this.now;
  }

  /** Characters of every key and value held (Store.dataBytes): what a quota on the data compares. */
  get dataBytes(): number {
    return this.store.dataBytes;
  }

  /**
   * Throws only for a caller's bug (an index out of order); bad data in the log becomes
   * an error result, because every replica must get past it the same way.
   */
  apply(entry: Entry): ApplyResult | null {
    if (entry.index !== this.applied + 1) {
      throw new Error(`apply out of order: got index ${entry.index}, expected ${this.applied + 1}`);
    }
    this.applied = entry.index;
    // No-ops and configuration entries (membership, Raft §6) change no key.
    if (entry.kind !== 'command') return null;
    const decoded = decodeCommand(entry.data);
    if (!decoded.ok) return { index: entry.index, clientId: null, opId: null, result: decoded, duplicate: false };
    const { clientId, opId, firstUnacked, ts, op } = decoded.command;
    // max, not the latest: a new leader's clock may be behind its predecessor's.
    this.now = Math.max(this.now, ts);
    this.store.sweep(this.now);
    const cached = this.sessions.admit(clientId, opId, firstUnacked, this.now);
    if (cached !== null) return { index: entry.index, clientId, opId, result: cached, duplicate: true };
    const result = this.execute(op);
    this.sessions.record(clientId, opId, result);
    return { index: entry.index, clientId, opId, result, duplicate: false };
  }

  /**
   * A read served outside the log (after ReadIndex). Never earlier than log time: a key
   * the log has already expired must not reappear because the reader's clock is behind.
   */
  read(op: ReadOp, now: number): OpResult {
    const error = validateOp(op);
    return error === null ? this.readAt(op, Math.max(now, this.now)) : { ok: false, error };
  }

  /**
   * The state after applying entries 1..lastApplied, encoded (see snapshot-format.ts): what
   * a Raft snapshot at lastApplied holds (§7). Synchronous, and proportional to the data
   * held (about 25 ms per 10 MB here), not to the log. `membership`: the server's
   * membership at lastApplied, carried along unread (snapshot-format.ts).
   */
  snapshot(membership?: SnapshotMembership): Uint8Array {
    return encodeKvSnapshot({ lastApplied: this.applied, logicalNow: this.now, keys: this.store.dump(), sessions: this.sessions.dump(), ...(membership ? { membership } : {}) });
  }

  /**
   * Replaces the whole state with a snapshot's (from snapshot(), here or on another
   * replica); lastApplied becomes the snapshot's. Throws, changing nothing, if `data` is
   * not a snapshot this version reads, or if it does not cover `expectIndex`. Returns the
   * membership the snapshot carries, if any (for the server; the KV state ignores it).
   */
  restore(data: Uint8Array, expectIndex: number): SnapshotMembership | undefined {
    const state = decodeKvSnapshot(data);
    if (state.lastApplied !== expectIndex) throw new Error(`KV snapshot holds entries up to ${state.lastApplied}, but Raft says it covers ${expectIndex}`);
    this.store.load(state.keys);
    this.sessions.load(state.sessions);
    this.applied = state.lastApplied;
    this.now = state.logicalNow;
    return state.membership;
  }

  snapshotForTest(): KvSnapshot {
    return { lastApplied: this.applied, logicalNow: this.now, keys: this.store.entries(), sessions: this.sessions.view() };
  }

  private execute(op: Op): OpResult {
    switch (op.type) {
      case 'get':
      case 'mget':
        return this.readAt(op, this.now);
      case 'put':
        this.store.put(op.key, op.value);
        return { ok: true, value: op.value };
      case 'delete':
        return { ok: true, value: this.store.delete(op.key, this.now) ?? '' };
      case 'incr':
        return this.incr(op.key);
      case 'expire':
        return { ok: true, value: this.store.expire(op.key, op.deadlineMs, this.now) ? '1' : '0' };
      case 'mput':
        // Decoding checked every pair, so nothing below can fail halfway.
        for (const { key, value } of op.pairs) this.store.put(key, value);
        return { ok: true, value: String(op.pairs.length) };
    }
  }

  private readAt(op: ReadOp, now: number): OpResult {
    if (op.type === 'get') return { ok: true, value: this.store.get(op.key, now) ?? '' };
    return { ok: true, value: '', values: op.keys.map((key) => this.store.get(key, now) ?? '') };
  }

  private incr(key: string): OpResult {
    const current = this.store.get(key, this.now) ?? '0';
    if (!INTEGER.test(current)) return { ok: false, error: `incr: the value of ${JSON.stringify(key)} is not a base-10 integer` };
    const n = Number(current);
    // Past 2^53 numbers silently lose precision, so a counter there would stop counting.
    if (!Number.isSafeInteger(n)) {
      return { ok: false, error: `incr: the value of ${JSON.stringify(key)} is outside the safe integer range` };
    }
    if (n === Number.MAX_SAFE_INTEGER) {
      return { ok: false, error: `incr: ${JSON.stringify(key)} would overflow Number.MAX_SAFE_INTEGER (${n})` };
    }
    const value = String(n + 1);
    this.store.update(key, value, this.now);
    return { ok: true, value };
  }
}
