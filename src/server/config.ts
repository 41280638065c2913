import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LOCK_NAMES } from './data-dir-lock.ts';
import type { CompactionPolicy, ReplicationLimits, Timing } from './raft-node.ts';

export interface ServerEntry {
  id: string;
  /** host:port this server listens on and peers dial. */
  addr: string;
}

export interface ClusterConfig {
  servers: ServerEntry[];
  /** Each server keeps its log under <dataDir>/<id>/. */
  dataDir: string;
  timing: Timing;
  /** How long a leader waits for a write to commit before answering TIMEOUT. */
  commitTimeoutMs: number;
  /** host:port of the tracing server; null traces nowhere. */
  traceServer: string | null;
  /** Trace heartbeats that carry nothing new too (large logs). */
  traceHeartbeats: boolean;
  /**
   * Replication's byte bounds, in bytes of encoded entries: `maxSizePerMsg` per
   * AppendEntries (default 1048576, 1 MiB; a bigger single entry goes alone) and
   * `maxInflightBytes` unacknowledged per follower (default 16777216, 16 MiB; 0: none).
   */
  replication: ReplicationLimits;
  /** When each server snapshots its state machine and compacts its log (Raft §7). */
  compaction: CompactionPolicy;
  /** What a server may hold in memory. */
  memory: MemoryLimits;
}

/**
 * A server keeps its whole key space in memory (and a snapshot of it), so the data it
 * takes is bounded, as etcd bounds it with --quota-backend-bytes, and the JavaScript heap
 * with it, so that memory stays flat however long the server runs.
 */
export interface MemoryLimits {
  /**
   * Writes are refused (code NOSPACE, nothing applied) while the keys and values held
   * reach this many bytes (characters); reads, deletes and expires still work, so space
   * can be freed. Checked by the leader before it proposes. Default 67108864 (64 MiB).
   */
  quotaBytes: number;
  /**
   * V8's old-space limit for server processes started by RaftKV (`raftkv cluster up`,
   * scenarios, tests: node --max-old-space-size), in MiB. A lower limit makes the garbage
   * collector work sooner, keeping resident memory near what is live. Keep it above about
   * 3 x quotaBytes + 64 MiB (the keys, a snapshot being encoded, the log). Default 256.
   */
  heapLimitMb: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DEFAULT_BASE_PORT = 7100;

/** etcd's defaults: 1 MiB of entries per message; in flight, 16 of them per follower. */
export const DEFAULT_REPLICATION: ReplicationLimits = { maxSizePerMsg: 1024 * 1024, maxInflightBytes: 16 * 1024 * 1024 };

/**
 * A snapshot every 10,000 applied entries (etcd's --snapshot-count before 3.5; hashicorp/raft's
 * SnapshotThreshold is 8,192), keeping 5,000 entries below it (etcd's SnapshotCatchUpEntries)
 * so a follower a little behind catches up from the log rather than a whole snapshot.
 */
export const DEFAULT_COMPACTION: CompactionPolicy = { snapshotCount: 10_000, catchUpEntries: 5_000 };

/** 64 MiB of keys and values in a 256 MiB heap: room for them, a snapshot being encoded and the log. */
export const DEFAULT_MEMORY: MemoryLimits = { quotaBytes: 64 * 1024 * 1024, heapLimitMb: 256 };

/** 25 ms ticks: elections after 250-500 ms of silence, heartbeats every 50 ms. */
const DEFAULT_TIMING: Timing = { tickMs: 25, electionTick: 10, heartbeatTick: 2 };

export function defaultConfig(n = 7, basePort = DEFAULT_BASE_PORT, dataDir = 'data'): ClusterConfig {
  return {
    servers: Array.from({ length: n }, (_, i) => ({ id: `server${i}`, addr: `127.0.0.1:${basePort + i}` })),
    dataDir,
    timing: { ...DEFAULT_TIMING },
    commitTimeoutMs: 3000,
    traceServer: null,
    traceHeartbeats: false,
    replication: { ...DEFAULT_REPLICATION },
    compaction: { ...DEFAULT_COMPACTION },
    memory: { ...DEFAULT_MEMORY },
  };
}

export function loadConfig(file: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const config = parseConfig(raw, file);
  // A relative data dir is relative to the config file, so the file can move with its data.
  return { ...config, dataDir: path.resolve(path.dirname(file), config.dataDir) };
}

/**
 * Writes a config where child processes can read it, creating the directory; dataDir is
 * stored relative to the file, as loadConfig reads it back. Returns the file's absolute path.
 */
export function writeConfig(file: string, config: ClusterConfig): string {
  const abs = path.resolve(file);
  mkdirSync(path.dirname(abs), { recursive: true });
  const dataDir = path.relative(path.dirname(abs), path.resolve(config.dataDir)) || '.';
  writeFileSync(abs, JSON.stringify({ ...config, dataDir }, null, 2) + '\n');
  return abs;
}

/** Checks every field and names the first bad one; missing optional fields get defaults. */
function parseConfig(raw: unknown, source = 'config'): ClusterConfig {
  const bad = (what: string): never => {
    throw new ConfigError(`${source}: ${what}`);
  };
  if (!isObject(raw)) bad('must be a JSON object');
  const obj = raw as Record<string, unknown>;
  const known = new Set(['servers', 'dataDir', 'timing', 'commitTimeoutMs', 'traceServer', 'traceHeartbeats', 'replication', 'compaction', 'memory']);
  for (const key of Object.keys(obj)) if (!known.has(key)) bad(`unknown field "${key}" (known: ${[...known].join(', ')})`);
  if (!Array.isArray(obj.servers) || obj.servers.length === 0) bad('"servers" must be a non-empty array of {id, addr}');
  const servers = (obj.servers as unknown[]).map((s, i): ServerEntry => {
    if (!isObject(s)) bad(`servers[${i}] must be an object {id, addr}`);
    const { id, addr } = s as Record<string, unknown>;
    const idProblem = serverIdProblem(id);
    if (idProblem !== null) bad(`servers[${i}].id ${idProblem}`);
    if (typeof addr !== 'string' || !isHostPort(addr)) bad(`servers[${i}].addr must be host:port with a port 1-65535 (got ${JSON.stringify(addr)})`);
    return { id: id as string, addr: addr as string };
  });
  const dup = (xs: string[]) => xs.find((x, i) => xs.indexOf(x) !== i);
  const dupId = dup(servers.map((s) => s.id));
  if (dupId) bad(`server id "${dupId}" appears twice`);
  const dupAddr = dup(servers.map((s) => s.addr));
  if (dupAddr) bad(`address ${dupAddr} appears twice`);
  const d = defaultConfig(1);
  const timingRaw = obj.timing ?? d.timing;
  if (!isObject(timingRaw)) bad('"timing" must be an object {tickMs, electionTick, heartbeatTick}');
  const t = { ...d.timing, ...(timingRaw as object) } as Record<string, unknown>;
  for (const k of ['tickMs', 'electionTick', 'heartbeatTick']) {
    if (!Number.isInteger(t[k]) || (t[k] as number) < 1) bad(`timing.${k} must be a positive integer (got ${JSON.stringify(t[k])})`);
  }
  if ((t.heartbeatTick as number) >= (t.electionTick as number)) bad('timing.heartbeatTick must be less than timing.electionTick');
  const commitTimeoutMs = obj.commitTimeoutMs ?? d.commitTimeoutMs;
  if (!Number.isInteger(commitTimeoutMs) || (commitTimeoutMs as number) < 1) bad('"commitTimeoutMs" must be a positive integer');
  const traceServer = obj.traceServer ?? null;
  if (traceServer !== null && (typeof traceServer !== 'string' || !isHostPort(traceServer))) bad('"traceServer" must be host:port or null');
  const dataDir = obj.dataDir ?? d.dataDir;
  if (typeof dataDir !== 'string' || dataDir.trim() === '' || dataDir.includes('\0')) bad('"dataDir" must be a non-empty path');
  const traceHeartbeats = obj.traceHeartbeats ?? false;
  if (typeof traceHeartbeats !== 'boolean') bad('"traceHeartbeats" must be true or false');
  const r = section(obj.replication, 'replication', d.replication, '{maxSizePerMsg, maxInflightBytes} (bytes)', bad);
  if (!Number.isSafeInteger(r.maxSizePerMsg) || (r.maxSizePerMsg as number) < 1) bad(`replication.maxSizePerMsg must be a positive integer of bytes (got ${JSON.stringify(r.maxSizePerMsg)})`);
  if (!Number.isSafeInteger(r.maxInflightBytes) || (r.maxInflightBytes as number) < 0) bad(`replication.maxInflightBytes must be a non-negative integer of bytes, 0 for no bound (got ${JSON.stringify(r.maxInflightBytes)})`);
  const c = section(obj.compaction, 'compaction', d.compaction, '{snapshotCount, catchUpEntries} (entries)', bad);
  if (!Number.isSafeInteger(c.snapshotCount) || (c.snapshotCount as number) < 1) bad(`compaction.snapshotCount must be a positive integer of entries (got ${JSON.stringify(c.snapshotCount)})`);
  if (!Number.isSafeInteger(c.catchUpEntries) || (c.catchUpEntries as number) < 0) bad(`compaction.catchUpEntries must be a non-negative integer of entries (got ${JSON.stringify(c.catchUpEntries)})`);
  const m = section(obj.memory, 'memory', d.memory, '{quotaBytes, heapLimitMb}', bad);
  if (!Number.isSafeInteger(m.quotaBytes) || (m.quotaBytes as number) < 1) bad(`memory.quotaBytes must be a positive integer of bytes (got ${JSON.stringify(m.quotaBytes)})`);
  if (!Number.isSafeInteger(m.heapLimitMb) || (m.heapLimitMb as number) < 64) bad(`memory.heapLimitMb must be an integer of MiB, at least 64 (got ${JSON.stringify(m.heapLimitMb)})`);
  return {
    servers,
    dataDir: dataDir as string,
    timing: { tickMs: t.tickMs as number, electionTick: t.electionTick as number, heartbeatTick: t.heartbeatTick as number },
    commitTimeoutMs: commitTimeoutMs as number,
    traceServer: traceServer as string | null,
    traceHeartbeats: traceHeartbeats as boolean,
    replication: { maxSizePerMsg: r.maxSizePerMsg as number, maxInflightBytes: r.maxInflightBytes as number },
    compaction: { snapshotCount: c.snapshotCount as number, catchUpEntries: c.catchUpEntries as number },
    memory: { quotaBytes: m.quotaBytes as number, heapLimitMb: m.heapLimitMb as number },
  };
}

/**
 * Names RaftKV keeps in the data directory beside the servers' own directories
 * (`<dataDir>/<serverId>/`): a server may not be called by one of them.
 */
export const RESERVED_IN_DATA_DIR: readonly string[] = ['logs', 'cluster.json', 'supervisor.json', ...LOCK_NAMES];

/**
 * Why `id` cannot name a server, or null. An id becomes a directory (`<dataDir>/<id>/`), a
 * log file name and a trace host, so it must be one safe path segment: 1-64 letters,
 * digits, "_", "-" or ".", starting with a letter or digit (so never ".", "..", a hidden
 * name or something that reads as a flag), and not a name RaftKV keeps in the data directory.
 */
export function serverIdProblem(id: unknown): string | null {
  if (typeof id !== 'string') return `must be a string (got ${JSON.stringify(id)})`;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id)) {
    return `must be 1-64 letters, digits, "_", "-" or ".", starting with a letter or digit (got ${JSON.stringify(id)})`;
  }
  if (RESERVED_IN_DATA_DIR.includes(id.toLowerCase())) return `"${id}" is a name RaftKV keeps in the data directory (reserved: ${RESERVED_IN_DATA_DIR.join(', ')})`;
  return null;
}

/**
 * An optional object field of the config (`name`), its keys merged over `defaults`;
 * `bad` is called for a non-object or a key `defaults` does not have. Values are checked by the caller.
 */
function section(raw: unknown, name: string, defaults: object, shape: string, bad: (what: string) => never): Record<string, unknown> {
  if (raw === undefined) return { ...defaults };
  if (!isObject(raw)) bad(`"${name}" must be an object ${shape}`);
  for (const key of Object.keys(raw as object)) {
    if (!(key in defaults)) bad(`unknown field "${name}.${key}" (known: ${Object.keys(defaults).join(', ')})`);
  }
  return { ...defaults, ...(raw as object) };
}

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether `s` is host:port with a port 1-65535 (a host name, an IPv4 address, or an IPv6 one in brackets). */
export function isHostPort(s: string): boolean {
  const m = /^([^\s:]+|\[[0-9a-fA-F:]+\]):(\d+)$/.exec(s);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
}
