import { Buffer } from 'node:buffer';

/**
 * Limits on what a client may ask for, so one request cannot bloat the log or the map.
 * Keys and values are counted in UTF-8 bytes, as a client sends them. The log holds a
 * command as JSON, where a value costs more: `"` and `\` take 2 bytes, and a control
 * character such as NUL 6 (`\u0000`), so a 64 KiB value can take up to 384 KiB there.
 * MAX_COMMAND_BYTES bounds what a whole command costs in that form.
 */
export const MAX_KEY_BYTES = 512;
export const MAX_VALUE_BYTES = 64 * 1024;
/** For mget and mput. */
export const MAX_BATCH_KEYS = 256;
/**
 * One operation, JSON-encoded as the log holds it, at most 1.5 MiB: etcd's default
 * request limit (--max-request-bytes). An mput of 23 values of 64 KiB of plain text fits,
 * 24 do not; of 64 KiB NUL values (384 KiB each once escaped) 3 fit. Why so low: every
 * server encodes, parses and writes a command on its one event loop, and a 16 MiB
 * command stalled that loop for 350-500 ms (bench/loop-stall.ts), longer than the 250 ms
 * minimum election timeout, so followers elected another leader while it was applied.
 */
export const MAX_COMMAND_BYTES = 1.5 * 1024 * 1024;
export const MAX_TTL_SECONDS = 10 * 365 * 24 * 60 * 60;

export type KeyValue = { key: string; value: string };

type GetOp = { type: 'get'; key: string };
type MGetOp = { type: 'mget'; keys: string[] };
type PutOp = { type: 'put'; key: string; value: string };
type DeleteOp = { type: 'delete'; key: string };
/** A missing key counts as 0; the result is the new value. */
type IncrOp = { type: 'incr'; key: string };
/** All pairs or none. */
type MPutOp = { type: 'mput'; pairs: KeyValue[] };
/** Relative, as a client asks: its clock is not the cluster's. */
type ExpireRequest = { type: 'expire'; key: string; ttlSeconds: number };
/** Absolute, as the log carries it: every replica expires the key at the same log point. */
type ExpireOp = { type: 'expire'; key: string; deadlineMs: number };

export type ReadOp = GetOp | MGetOp;
/** What a client sends. */
export type ClientOp = ReadOp | PutOp | DeleteOp | IncrOp | MPutOp | ExpireRequest;
/** What the log carries. */
export type Op = ReadOp | PutOp | DeleteOp | IncrOp | MPutOp | ExpireOp;

export interface Command {
  clientId: string;
  opId: number;
  /** The lowest opId this client has not yet seen answered; lets replicas drop older results. */
  firstUnacked: number;
  /** The leader's wall clock (ms) when it proposed: "log time", the only clock replicas share. */
  ts: number;
  op: Op;
}

type CommandMeta = Pick<Command, 'clientId' | 'opId' | 'firstUnacked'>;

/**
 * put -> the value written; delete -> the value removed ("" if none); incr -> the new
 * value; expire -> "1" if the key exists, "0" if not; mput -> the number of pairs;
 * get/mget -> the values, "" for a missing key.
 */
export type OpResult = { ok: true; value: string; values?: string[] } | { ok: false; error: string };

type CommandOrError = { ok: true; command: Command } | { ok: false; error: string };

/** Checks a client's op, typed or not (it comes off the wire): the error message, or null. */
export function validateOp(op: ClientOp): string | null {
  return opError(op, 'ttlSeconds') ?? encodedSizeError(op);
}

/** Room for the command around the op: clientId, opId, firstUnacked, ts. */
const COMMAND_ENVELOPE_BYTES = 1024;

/** What the op costs once JSON-encoded for the log, checked against MAX_COMMAND_BYTES. */
function encodedSizeError(op: ClientOp): string | null {
  // JSON turns one UTF-16 unit into at most 6 bytes: most ops are far below the limit.
  const texts = op.type === 'mget' ? op.keys : op.type === 'mput' ? op.pairs.flatMap((p) => [p.key, p.value]) : [op.key, op.type === 'put' ? op.value : ''];
  const bound = texts.reduce((n, t) => n + 6 * t.length + 8, COMMAND_ENVELOPE_BYTES);
  if (bound <= MAX_COMMAND_BYTES) return null;
  const bytes = jsonBytes(op) + COMMAND_ENVELOPE_BYTES;
  if (bytes <= MAX_COMMAND_BYTES) return null;
  return (
    `${op.type} is ${bytes.toLocaleString('en-US')} bytes once JSON-encoded for the log (where a NUL or other control character takes 6 bytes); ` +
    `the limit is ${MAX_COMMAND_BYTES.toLocaleString('en-US')} bytes (1.5 MiB) per operation`
  );
}

/**
 * Bytes of `JSON.stringify(value)` in UTF-8, counted without building it: an op within every
 * per-value limit can be 96 MiB of JSON (256 values of 64 KiB of NULs), and building that
 * string to measure it, in a server with a 256 MiB heap, is what ran one out of memory.
 * Each string is measured by jsonStringBytes and stands in the skeleton as "".
 */
function jsonBytes(value: unknown): number {
  let strings = 0;
  const skeleton = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'string') return v;
    strings += jsonStringBytes(v) - 2;
    return '';
  });
  return Buffer.byteLength(skeleton, 'utf8') + strings;
}

/** UTF-8 bytes of a string as JSON.stringify writes it, quotes included (ES2019 well-formed escapes). */
function jsonStringBytes(s: string): number {
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) n += 2; // \" \\
    else if (c < 0x20) n += c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6; // \n or \u00XX
    else if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff) {
      n += 4; // a surrogate pair: one 4-byte character
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) n += 6; // a lone surrogate: \uDXXX
    else n += 3;
  }
  return n;
}

/** What the leader proposes: the op checked, and its ttl turned into a deadline in log time. */
export function buildCommand(meta: CommandMeta, op: ClientOp, ts: number): CommandOrError {
  const error = metaError(meta) ?? validateOp(op) ?? integerError('ts', ts);
  if (error !== null) return { ok: false, error };
  const logOp: Op =
    op.type === 'expire' ? { type: 'expire', key: op.key, deadlineMs: ts + Math.ceil(op.ttlSeconds * 1000) } : op;
  return { ok: true, command: { clientId: meta.clientId, opId: meta.opId, firstUnacked: meta.firstUnacked, ts, op: logOp } };
}

export function encodeCommand(command: Command): string {
  return JSON.stringify(command);
}

/** Never throws: whatever is in the log, the apply loop gets a command or a reason. */
export function decodeCommand(data: string): CommandOrError {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch (e) {
    return malformed(`not JSON (${(e as Error).message})`);
  }
  if (!isRecord(raw)) return malformed('not a JSON object');
  const error =
    fieldsError(raw, 'command', ['clientId', 'opId', 'firstUnacked', 'ts', 'op']) ??
    metaError(raw) ??
    integerError('ts', raw.ts) ??
    opError(raw.op, 'deadlineMs');
  return error === null ? { ok: true, command: raw as unknown as Command } : malformed(error);
}

function malformed(reason: string): CommandOrError {
  return { ok: false, error: `malformed command: ${reason}` };
}

function metaError(raw: Record<string, unknown>): string | null {
  if (typeof raw.clientId !== 'string' || raw.clientId.length === 0) return 'clientId must be a non-empty string';
  const error = integerError('opId', raw.opId) ?? integerError('firstUnacked', raw.firstUnacked);
  if (error !== null) return error;
  // The op being sent is itself unanswered, so it cannot lie below the low-water mark.
  if ((raw.firstUnacked as number) > (raw.opId as number)) {
    return `firstUnacked (${String(raw.firstUnacked)}) is above opId (${String(raw.opId)})`;
  }
  return null;
}

function opError(raw: unknown, expireField: 'ttlSeconds' | 'deadlineMs'): string | null {
  if (!isRecord(raw)) return 'op must be an object';
  switch (raw.type) {
    case 'get':
    case 'delete':
    case 'incr':
      return fieldsError(raw, `${raw.type} op`, ['type', 'key']) ?? keyError(raw.key);
    case 'put':
      return fieldsError(raw, 'put op', ['type', 'key', 'value']) ?? keyError(raw.key) ?? valueError(raw.value);
    case 'expire':
      return (
        fieldsError(raw, 'expire op', ['type', 'key', expireField]) ??
        keyError(raw.key) ??
        (expireField === 'ttlSeconds' ? ttlError(raw.ttlSeconds) : integerError('deadlineMs', raw.deadlineMs))
      );
    case 'mget':
      return (
        fieldsError(raw, 'mget op', ['type', 'keys']) ??
        batchError('mget', 'keys', raw.keys) ??
        firstError('mget keys', raw.keys as unknown[], keyError)
      );
    case 'mput':
      return (
        fieldsError(raw, 'mput op', ['type', 'pairs']) ??
        batchError('mput', 'pairs', raw.pairs) ??
        firstError('mput pairs', raw.pairs as unknown[], pairError)
      );
    default:
      return `unknown op type ${JSON.stringify(raw.type) ?? 'undefined'}`;
  }
}

/** Exactly these fields: an unknown one means a writer this replica does not understand. */
function fieldsError(raw: Record<string, unknown>, what: string, fields: string[]): string | null {
  const missing = fields.find((f) => !Object.hasOwn(raw, f));
  if (missing !== undefined) return `${what} is missing field "${missing}"`;
  const extra = Object.keys(raw).find((f) => !fields.includes(f));
  return extra === undefined ? null : `${what} has unexpected field ${JSON.stringify(extra)}`;
}

function keyError(key: unknown): string | null {
  if (typeof key !== 'string' || key.length === 0) return 'key must be a non-empty string';
  const bytes = Buffer.byteLength(key, 'utf8');
  return bytes > MAX_KEY_BYTES ? `key is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}` : null;
}

function valueError(value: unknown): string | null {
  if (typeof value !== 'string') return 'value must be a string';
  const bytes = Buffer.byteLength(value, 'utf8');
  return bytes > MAX_VALUE_BYTES ? `value is ${bytes} bytes; the limit is ${MAX_VALUE_BYTES}` : null;
}

function pairError(pair: unknown): string | null {
  if (!isRecord(pair)) return 'pair must be an object';
  return fieldsError(pair, 'pair', ['key', 'value']) ?? keyError(pair.key) ?? valueError(pair.value);
}

function ttlError(ttl: unknown): string | null {
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    // String(), not JSON.stringify: JSON has no NaN or Infinity and would print "null".
    const got = typeof ttl === 'number' ? String(ttl) : JSON.stringify(ttl) ?? 'undefined';
    return `ttlSeconds must be a positive finite number of seconds, got ${got}`;
  }
  return ttl > MAX_TTL_SECONDS ? `ttlSeconds is ${ttl}; the limit is ${MAX_TTL_SECONDS} (10 years)` : null;
}

function batchError(op: string, field: string, items: unknown): string | null {
  if (!Array.isArray(items)) return `${op} ${field} must be an array`;
  if (items.length === 0) return `${op} needs at least one ${field === 'keys' ? 'key' : 'pair'}`;
  return items.length > MAX_BATCH_KEYS ? `${op} has ${items.length} ${field}; the limit is ${MAX_BATCH_KEYS}` : null;
}

function firstError(what: string, items: unknown[], check: (item: unknown) => string | null): string | null {
  for (let i = 0; i < items.length; i++) {
    const error = check(items[i]);
    if (error !== null) return `${what}[${i}]: ${error}`;
  }
  return null;
}

function integerError(name: string, n: unknown): string | null {
  return Number.isSafeInteger(n) && (n as number) >= 0 ? null : `${name} must be a non-negative integer`;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
