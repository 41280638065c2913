import { Buffer } from 'node:buffer';
import type { InstallSnapshot } from '../raft/types.ts';
import { checkSnapshotHeader, installSnapshotFromWire, sameSnapshotHeader, snapshotHeaderToWire } from './codec.ts';
import type { WireSnapshotChunk, WireSnapshotHeader } from './wire.ts';
import { SNAPSHOT_CHUNK_BYTES } from './wire-size.ts';

/*
 * InstallSnapshot on the wire (protos/raftkv.proto, RaftPeer.InstallSnapshot). Raft §7
 * sends a snapshot in chunks, each with the leader's term, the snapshot's last index and
 * term, the chunk's byte offset and a `done` flag, the follower writing each at its
 * offset. Here one client-streaming call carries one snapshot: every SnapshotChunk holds
 * the same SnapshotHeader and the next piece of data at its offset, the end of the call
 * is `done`, and the receiver hands the core one InstallSnapshot only once every byte
 * came (etcd's rafthttp snapshot sender and hashicorp/raft's InstallSnapshot likewise
 * stream a whole snapshot on one request of its own, beside the message path).
 */

/**
 * How long one transfer may take, ms: 10 s, plus 1 s per MiB of data (a floor of
 * 1 MiB/s, far below loopback or a LAN; hashicorp/raft scales its InstallSnapshot I/O
 * deadline with the size the same way). A 50 MB snapshot gets about 58 s, a 1 GiB one
 * about 17 min.
 */
export function snapshotDeadlineMs(bytes: number): number {
  return 10_000 + Math.ceil((bytes / (1024 * 1024)) * 1000);
}

/**
 * The chunks of `m`, lazily, in order: each a view of the next `chunkBytes` (1 MiB by
 * default) of its data, no copy made; an empty snapshot is one chunk with no data.
 * Every chunk carries the same header.
 */
export function* snapshotChunks(m: InstallSnapshot, chunkBytes = SNAPSHOT_CHUNK_BYTES): Generator<WireSnapshotChunk> {
  if (!(chunkBytes >= 1)) throw new Error(`chunkBytes must be at least 1, not ${chunkBytes}`);
  const header = snapshotHeaderToWire(m);
  const data = m.snapshot.data;
  let offset = 0;
  do {
    const n = Math.min(chunkBytes, data.byteLength - offset);
    yield { header, offset, data: Buffer.from(data.buffer, data.byteOffset + offset, n) };
    offset += n;
  } while (offset < data.byteLength);
}

/**
 * Rebuilds one InstallSnapshot from the chunks of one call. add() throws on a chunk that
 * does not continue the transfer (no header, a header unlike the first one's, a header
 * no peer could send, an offset other than the bytes received so far, data beyond
 * totalBytes); finish() throws if the data is not all there. The chunks' Buffers are
 * kept as they come and concatenated once, at the end. Who may send (a known peer, to
 * us) is the caller's check, through `accept`, run on the first header.
 */
export class SnapshotAssembler {
  private header: WireSnapshotHeader | null = null;
  private parts: Uint8Array[] = [];
  private received = 0;

  constructor(private readonly accept: (header: WireSnapshotHeader) => void = () => undefined) {}

  /** The transfer's header, once a chunk came. */
  get current(): WireSnapshotHeader | null {
    return this.header;
  }

  /** Bytes of data received so far. */
  get bytes(): number {
    return this.received;
  }

  add(chunk: WireSnapshotChunk): void {
    const h = chunk.header;
    if (!h) throw new Error(`snapshot chunk at offset ${chunk.offset} has no header`);
    if (this.header === null) {
      checkSnapshotHeader(h);
      this.accept(h);
      this.header = h;
    } else if (!sameSnapshotHeader(this.header, h)) {
      throw new Error(`snapshot chunk at offset ${chunk.offset} changed the header (${describe(this.header)} became ${describe(h)})`);
    }
    if (chunk.offset !== this.received) throw new Error(`snapshot chunk at offset ${chunk.offset}, expected ${this.received}`);
    const len = chunk.data.byteLength;
    if (this.received + len > this.header.totalBytes) throw new Error(`snapshot chunk at offset ${chunk.offset} of ${len} bytes runs past totalBytes ${this.header.totalBytes}`);
    if (len > 0) this.parts.push(chunk.data);
    this.received += len;
  }

  /** The whole InstallSnapshot; throws when no chunk came or bytes are missing. */
  finish(): InstallSnapshot {
    if (!this.header) throw new Error('snapshot stream ended without a chunk');
    if (this.received !== this.header.totalBytes) throw new Error(`snapshot stream ended after ${this.received} of ${this.header.totalBytes} bytes`);
    const data = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.received);
    this.parts = [];
    return installSnapshotFromWire(this.header, data);
  }

  /** Drops what was received (an aborted or refused transfer). */
  discard(): void {
    this.parts = [];
  }
}

function describe(h: WireSnapshotHeader): string {
  return `from ${h.from} to ${h.to}, term ${h.term}, index ${h.snapshotIndex}/${h.snapshotTerm}, ${h.totalBytes} bytes`;
}
