import type { ConfState } from '../raft/types.ts';
import type { OpResult } from './command.ts';

/** Bumped when the layout below changes; a snapshot of another version is refused, never guessed at. */
export const KV_SNAPSHOT_VERSION = 1;

/** One key: its value and, when it has a TTL, its deadline in log-time ms. */
export type SnapshotKey = [key: string, value: string, deadlineMs?: number];

/**
 * One client session of the exactly-once table, with the results it may still be asked
 * for again (opId -> result), in the order the table keeps sessions (least recently
 * active first), which decides which one is dropped first when the table is full.
 */
export interface SnapshotSession {
  clientId: string;
  firstUnacked: number;
  evictedBelow: number;
  /** Log time (ms) of the client's latest command. */
  lastSeen: number;
  results: [opId: number, result: OpResult][];
}

/**
 * Everything the KV state machine is after applying entries 1..lastApplied (Raft §7: a
 * snapshot holds the state machine's state, not the log): keys with their TTL deadlines,
 * the session table (so a retry after compaction is still answered, not applied again)
 * and log time (so a key expires at the same entry on every replica).
 */
export interface KvSnapshotState {
  lastApplied: number;
  /** Log time in ms: the largest command `ts` applied so far. */
  logicalNow: number;
  keys: SnapshotKey[];
  sessions: SnapshotSession[];
  /**
   * The cluster's membership as of lastApplied (Raft §7: a snapshot carries "the latest
   * configuration as of lastIncludedIndex"), kept by the server (src/server/membership.ts)
   * beside the keys because the snapshot file's header holds only index and term. Absent in
   * snapshots written before membership changes existed: they still load, and the server
   * then takes the founding configuration.
   */
  membership?: SnapshotMembership;
}

/**
 * What a snapshot records of the membership: the configuration in force (ConfState), the
 * address of each member (replicated in the config entries' context, etcd's
 * ConfChange.Context), and the ids removed so far with the index of their removal (a
 * removed id is never taken back, as in etcd).
 */
export interface SnapshotMembership {
  conf: ConfState;
  /** Member id -> host:port. */
  addrs: Record<string, string>;
  /** Removed id -> index of the config entry that removed it. */
  removed: Record<string, number>;
}

/** JSON in UTF-8 bytes, with a version tag; about the size of the keys and values it holds. */
export function encodeKvSnapshot(state: KvSnapshotState): Uint8Array {
  return Buffer.from(JSON.stringify({ version: KV_SNAPSHOT_VERSION, ...state }));
}

/**
 * The state encodeKvSnapshot wrote. Throws an Error naming the problem for bytes that are
 * not such a snapshot (other version, truncated, wrong shapes): a state machine built
 * from a damaged snapshot would differ from its peers', so nothing is restored from it.
 */
export function decodeKvSnapshot(data: Uint8Array): KvSnapshotState {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch (err) {
    throw new Error(`KV snapshot is not valid JSON (${data.byteLength} bytes): ${(err as Error).message}`);
  }
  const bad = (what: string): never => {
    throw new Error(`KV snapshot: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null) bad('not an object');
  const s = raw as Record<string, unknown>;
  if (s.version !== KV_SNAPSHOT_VERSION) bad(`version ${JSON.stringify(s.version)}, this server reads version ${KV_SNAPSHOT_VERSION}`);
  if (!isCount(s.lastApplied)) bad('lastApplied is not a non-negative integer');
  if (typeof s.logicalNow !== 'number' || !Number.isFinite(s.logicalNow)) bad('logicalNow is not a number');
  if (!Array.isArray(s.keys) || !s.keys.every(isKey)) bad('keys is not a list of [key, value, deadlineMs?]');
  if (!Array.isArray(s.sessions) || !s.sessions.every(isSession)) bad('sessions is not a list of sessions');
  if (s.membership !== undefined && !isMembership(s.membership)) bad('membership is not {conf, addrs, removed}');
  return {
    lastApplied: s.lastApplied as number,
    logicalNow: s.logicalNow as number,
    keys: s.keys as SnapshotKey[],
    sessions: s.sessions as SnapshotSession[],
    ...(s.membership !== undefined ? { membership: s.membership as SnapshotMembership } : {}),
  };
}

function isMembership(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  const ids = (x: unknown) => Array.isArray(x) && x.every((i) => typeof i === 'string');
  const c = m.conf as Record<string, unknown> | null;
  const record = (x: unknown, ok: (y: unknown) => boolean) => typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x).every(ok);
  return (
    typeof c === 'object' && c !== null && ids(c.voters) && ids(c.learners) && ids(c.votersOutgoing) &&
    record(m.addrs, (a) => typeof a === 'string') && record(m.removed, isCount)
  );
}

function isCount(v: unknown): boolean {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function isKey(v: unknown): boolean {
  return Array.isArray(v) && (v.length === 2 || (v.length === 3 && typeof v[2] === 'number')) && typeof v[0] === 'string' && typeof v[1] === 'string';
}

function isSession(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.clientId === 'string' &&
    isCount(s.firstUnacked) &&
    isCount(s.evictedBelow) &&
    typeof s.lastSeen === 'number' &&
    Array.isArray(s.results) &&
    s.results.every((r) => Array.isArray(r) && r.length === 2 && isCount(r[0]) && isResult(r[1]))
  );
}

function isResult(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  if (r.ok === true) return typeof r.value === 'string' && (r.values === undefined || (Array.isArray(r.values) && r.values.every((x) => typeof x === 'string')));
  return r.ok === false && typeof r.error === 'string';
}
