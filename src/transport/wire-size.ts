import { Buffer } from 'node:buffer';
import type { Entry } from '../raft/types.ts';
import { MAX_MESSAGE_BYTES } from './proto.ts';
import type { WireRaftMessage } from './wire.ts';

/**
 * The largest entry a node proposes, in bytes as wireEntrySize counts them: one
 * AppendEntries must carry it whole within a gRPC message (MAX_MESSAGE_BYTES, 64 MiB),
 * with 1 MiB to spare for the message around it (ids, terms, the trace token). On disk
 * the same entry takes at most about twice this (log.db escapes the data's JSON once
 * more), well within what the store reads back.
 */
export const MAX_ENTRY_BYTES = MAX_MESSAGE_BYTES - 1024 * 1024;

/**
 * A RaftBatch on a peer stream holds messages up to this many bytes (4 MiB), so a Ready
 * with many pipelined AppendEntries for one peer goes out as several gRPC messages,
 * none near the limit; a message bigger than this goes alone.
 */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Data bytes in one SnapshotChunk (1 MiB, the order of etcd's MaxSizePerMsg): an
 * InstallSnapshot streams its data in pieces this big, each one gRPC message far below
 * MAX_MESSAGE_BYTES, so neither side holds more than a few of them in flight.
 */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/**
 * The largest snapshot a receiver accepts (1 GiB of data): it holds the whole of it in
 * memory until the last chunk, so a header claiming more is refused with
 * INVALID_ARGUMENT before anything is buffered, and a sender does not try.
 */
export const MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

const sizes = new WeakMap<Entry, number>();

/**
 * Bytes `e` takes on the wire: its protobuf encoding as an element of
 * AppendEntries.entries (protos/raftkv.proto), tag and length prefix included. Strings
 * count as UTF-8, so a NUL is 1 byte here where JSON makes it 6 (`\u0000`): the data of a
 * KV command is already JSON, and what it became there is what is measured. Entries are
 * never changed once made, so each is measured once.
 */
export function wireEntrySize(e: Entry): number {
  let size = sizes.get(e);
  if (size === undefined) {
    const body = uintField(e.index) + uintField(e.term) + stringField(e.kind) + stringField(e.data) + stringField(e.traceId ?? '');
    size = 1 + varintSize(body) + body;
    sizes.set(e, size);
  }
  return size;
}

/**
 * Bytes a wire message takes, within a few bytes (an upper bound): the entries counted
 * as wireEntrySize does, the rest as a generous fixed allowance plus the token. The
 * allowance (128 bytes) covers an InstallSnapshotRes whole: four numbers and a flag, at
 * most 45 bytes with their tags even with every number at 2^53.
 */
export function wireMessageSize(m: WireRaftMessage, entries: readonly Entry[]): number {
  let size = 128 + m.from.length * 3 + m.to.length * 3 + Buffer.byteLength(m.token, 'utf8');
  for (const e of entries) size += wireEntrySize(e);
  return size;
}

/**
 * One field with its 1-byte tag. protobufjs (under @grpc/proto-loader) writes every
 * field the object sets, defaults included, and the codec sets all five.
 */
function uintField(n: number): number {
  return 1 + varintSize(n);
}

function stringField(s: string): number {
  const len = Buffer.byteLength(s, 'utf8');
  return 1 + varintSize(len) + len;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/**
 * About what a plain wire object (strings, numbers, booleans, arrays, objects: a client
 * request or reply) takes in protobuf: its strings in UTF-8 plus a few bytes per field.
 * An upper bound for splitting batches, not an exact size.
 */
export function approxWireBytes(value: unknown): number {
  if (typeof value === 'string') return 4 + Buffer.byteLength(value, 'utf8');
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + approxWireBytes(v), 4);
  if (value !== null && typeof value === 'object') return Object.values(value).reduce((n: number, v) => n + approxWireBytes(v), 4);
  return 11;
}

/**
 * Splits one turn's batch into stream messages of at most MAX_BATCH_BYTES each (an item
 * bigger than that alone), in order: one message per turn stays the common case, and a
 * turn of many big operations cannot make a message over gRPC's limit (which would break
 * the stream, fail every call on it, and fail the retry the same way).
 */
export function splitBatch<T>(items: T[], max = MAX_BATCH_BYTES): T[][] {
  const batches: T[][] = [[]];
  let bytes = 0;
  for (const item of items) {
    const size = approxWireBytes(item);
    if (bytes > 0 && bytes + size > max) {
      batches.push([]);
      bytes = 0;
    }
    batches.at(-1)!.push(item);
    bytes += size;
  }
  return batches;
}
