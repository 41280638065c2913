import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot } from '../raft/types.ts';
import { crc32 } from './checksum.ts';
import { CorruptDatafileError } from './corrupt-datafile-error.ts';
import type { StorageEventListener } from './events.ts';
import { fsyncPath } from './fsync-path.ts';

/** The snapshot's file in the data directory: the latest durable snapshot, or none. */
export const SNAPSHOT_FILE = 'snapshot.bin';
/** Where a snapshot is written before it is renamed over SNAPSHOT_FILE; a leftover one is garbage. */
export const SNAPSHOT_TEMP = 'snapshot.bin.tmp';

const MAGIC = Buffer.from('RKVSNAP\n', 'latin1');
const VERSION = 1;
/** Bytes before the data; see encodeSnapshotHeader. */
export const SNAPSHOT_HEADER_BYTES = 44;

/**
 * The 44-byte header of a snapshot file, big-endian:
 *
 * | offset | bytes | field |
 * | --- | --- | --- |
 * | 0 | 8 | magic `RKVSNAP\n` |
 * | 8 | 4 | format version, 1 |
 * | 12 | 8 | index: the last log index the snapshot covers |
 * | 20 | 8 | term of that entry |
 * | 28 | 8 | data length in bytes |
 * | 36 | 4 | CRC-32 (IEEE) of the data |
 * | 40 | 4 | CRC-32 of bytes 0..39 |
 *
 * and the data follows, to the end of the file. The header's own CRC catches a damaged
 * index or term even when the data is intact.
 */
export function encodeSnapshotHeader(snapshot: Snapshot): Buffer {
  const { index, term, data } = snapshot;
  for (const [name, value] of [
    ['index', index],
    ['term', term],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`snapshot ${name} ${String(value)} is not a non-negative integer`);
  }
  if (!(data instanceof Uint8Array)) throw new Error('snapshot data is not a Uint8Array');
  const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(VERSION, 8);
  header.writeBigUInt64BE(BigInt(index), 12);
  header.writeBigUInt64BE(BigInt(term), 20);
  header.writeBigUInt64BE(BigInt(data.byteLength), 28);
  header.writeUInt32BE(crc32(data), 36);
  header.writeUInt32BE(crc32(header.subarray(0, 40)), 40);
  return header;
}

/** The whole file for `snapshot` (header and data), as writeSnapshotFile writes it. */
export function encodeSnapshot(snapshot: Snapshot): Buffer {
  return Buffer.concat([encodeSnapshotHeader(snapshot), snapshot.data]);
}

/**
 * The snapshot a file's bytes hold, checked: magic, version, the header's CRC, the
 * length (a file cut short, or with bytes after the data, is refused) and the data's
 * CRC. Throws a CorruptDatafileError naming `file` (line null) otherwise. The data is a
 * view of `bytes`, not a copy.
 */
export function decodeSnapshot(file: string, bytes: Uint8Array): Snapshot {
  const bad = (problem: string) =>
    new CorruptDatafileError(file, null, `${problem}; it may hold the only copy of compacted entries, so it is not ignored (restore it, or start with --rejoin-empty to set it aside)`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < SNAPSHOT_HEADER_BYTES) {
    throw bad(`truncated snapshot: ${buf.length} bytes, shorter than the ${SNAPSHOT_HEADER_BYTES}-byte header`);
  }
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('not a RaftKV snapshot file (bad magic)');
  const version = buf.readUInt32BE(8);
  if (version !== VERSION) throw bad(`snapshot format version ${version} is not supported (expected ${VERSION})`);
  const headerCrc = crc32(buf.subarray(0, 40));
  if (buf.readUInt32BE(40) !== headerCrc) {
    throw bad(`snapshot header checksum mismatch (stored ${buf.readUInt32BE(40)}, computed ${headerCrc}): the header was damaged on disk`);
  }
  const [index, term, length] = [12, 20, 28].map((at) => buf.readBigUInt64BE(at));
  if (index > BigInt(Number.MAX_SAFE_INTEGER) || term > BigInt(Number.MAX_SAFE_INTEGER) || length > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw bad('snapshot header holds a number past 2^53');
  }
  const held = buf.length - SNAPSHOT_HEADER_BYTES;
  if (BigInt(held) !== length) {
    throw bad(`${held < Number(length) ? 'truncated snapshot' : 'snapshot with trailing bytes'}: ${held} bytes of data where the header says ${length}`);
  }
  const data = new Uint8Array(buf.buffer, buf.byteOffset + SNAPSHOT_HEADER_BYTES, held);
  const dataCrc = crc32(data);
  if (buf.readUInt32BE(36) !== dataCrc) {
    throw bad(`snapshot data checksum mismatch (stored ${buf.readUInt32BE(36)}, computed ${dataCrc}): the data was damaged on disk`);
  }
  return { index: Number(index), term: Number(term), data };
}

/** The snapshot in `file`, checked (decodeSnapshot), or null when there is no such file. */
export async function readSnapshotFile(file: string): Promise<Snapshot | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return decodeSnapshot(file, bytes);
}

/**
 * Makes `snapshot` the durable content of `dir`/SNAPSHOT_FILE, atomically: written to
 * SNAPSHOT_TEMP, fsynced, renamed over the file, then the directory fsynced (hashicorp
 * /raft's file snapshot store and etcd's snapshotter do the same). A crash at any point
 * leaves the old file or the new one whole: until the rename the old one is untouched,
 * and the temp file left behind is removed at the next open (removeSnapshotTemp). One
 * writer at a time: the caller serialises calls (the temp name is fixed).
 * Emits snapshot-write, snapshot-fsync, snapshot-rename and snapshot-sync-dir.
 */
export async function writeSnapshotFile(dir: string, snapshot: Snapshot, emit: StorageEventListener): Promise<void> {
  const [temp, file] = [join(dir, SNAPSHOT_TEMP), join(dir, SNAPSHOT_FILE)];
  const header = encodeSnapshotHeader(snapshot);
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(header);
    await handle.writeFile(snapshot.data);
    emit({ type: 'snapshot-write', file: temp, index: snapshot.index, bytes: header.length + snapshot.data.byteLength });
    await handle.sync();
    emit({ type: 'snapshot-fsync', file: temp });
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  emit({ type: 'snapshot-rename', file, index: snapshot.index });
  await fsyncPath(dir);
  emit({ type: 'snapshot-sync-dir', file: dir });
}

/** Deletes a temp file an interrupted writeSnapshotFile left in `dir`; true if there was one. */
export async function removeSnapshotTemp(dir: string): Promise<boolean> {
  try {
    await unlink(join(dir, SNAPSHOT_TEMP));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
