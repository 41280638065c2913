import * as grpc from '@grpc/grpc-js';
import { beforeSend } from '../../tracing/send-barrier.ts';
import type { InstallSnapshot, Message } from '../raft/types.ts';
import { messageFromWire, messageToWire } from './codec.ts';
import { channelOptions, RaftPeerService } from './proto.ts';
import { SnapshotAssembler, snapshotChunks, snapshotDeadlineMs } from './snapshot-stream.ts';
import type { WireRaftMessage, WireSnapshotChunk } from './wire.ts';
import { MAX_BATCH_BYTES, MAX_SNAPSHOT_BYTES, SNAPSHOT_CHUNK_BYTES, wireMessageSize } from './wire-size.ts';

export interface PeerAddress {
  id: string;
  addr: string;
}

interface PeerLink {
  id: string;
  addr: string;
  client: grpc.Client;
  stream: grpc.ClientWritableStream<{ messages: WireRaftMessage[] }> | null;
  /** The stream's buffer is full (a paused peer): drop until it drains. */
  congested: boolean;
  /** A client on a connection of its own, for snapshots; made at the first one. */
  snapshotClient: grpc.Client | null;
  /** The InstallSnapshot on its way to this peer: at most one at a time. */
  snapshot: SnapshotTransfer | null;
}

/** One InstallSnapshot being streamed; `finished` once it was reported. */
interface SnapshotTransfer {
  peer: string;
  call: grpc.ClientWritableStream<WireSnapshotChunk> | null;
  finished: boolean;
}

export interface PeerTransportOptions {
  /**
   * How an InstallSnapshot handed to send() ended, for Raft.reportSnapshot (etcd's
   * ReportSnapshot): called exactly once per InstallSnapshot, `ok` when the receiver
   * answered that the whole snapshot reached its node, otherwise false (an error, the
   * deadline, a blocked link, another snapshot to that peer already on its way, close()).
   * Never called from inside send(), setBlocked() or close() (the node may be in the
   * middle of a Ready): always in a later microtask, in the order the outcomes became known.
   */
  onSnapshotReport?: (peer: string, ok: boolean) => void;
  /** The deadline of one snapshot transfer, ms, from its data's size in bytes (default snapshotDeadlineMs: 10 s + 1 s per MiB). */
  snapshotDeadlineMs?: (bytes: number) => number;
  /** Data bytes per SnapshotChunk (default SNAPSHOT_CHUNK_BYTES, 1 MiB). */
  snapshotChunkBytes?: number;
  /**
   * `peer` refused this server's messages because of the membership (PERMISSION_DENIED:
   * this server was removed from the cluster, Raft §6), with its reason. Default: nothing.
   */
  onRefused?: (peer: string, details: string) => void;
}

/**
 * The snapshot client's own channel options: a local subchannel pool gives it its own
 * TCP connection, so a snapshot shares neither HTTP/2's connection-wide flow-control
 * window nor the socket's send queue with the peer stream (etcd, too, streams snapshots
 * on a connection of their own).
 */
const snapshotChannelOptions: grpc.ChannelOptions = { ...channelOptions, 'grpc.use_local_subchannel_pool': 1 };

/**
 * Sends Raft messages to peers over one long-lived gRPC stream each, one batch per peer
 * per Ready, split into gRPC messages of at most MAX_BATCH_BYTES (a single bigger Raft
 * message goes alone), so a Ready full of pipelined AppendEntries never meets gRPC's
 * message limit. Raft tolerates loss, so a dead, paused or slow peer costs dropped
 * messages, never a blocked node: a broken stream is reopened on the next send, and a
 * full one drops until it drains.
 *
 * InstallSnapshot (Raft §7) is taken out of the batch and streamed in SnapshotChunks of
 * 1 MiB on an RaftPeer.InstallSnapshot call of its own, over a connection of its own,
 * honouring backpressure (a full call waits for 'drain'), so heartbeats and
 * AppendEntries on the peer stream never wait behind megabytes of snapshot. The call
 * has a deadline scaled to the snapshot's size (snapshotDeadlineMs). Every snapshot
 * handed to send() is reported exactly once through onSnapshotReport.
 *
 * One transfer per peer at a time: an InstallSnapshot for a peer that already has one
 * on its way is dropped and reported failed at once, and the one in flight goes on. Its
 * bytes are already moving, and the core re-sends after a failure when it still needs
 * to; cancelling it instead for a newer one could starve a slow link forever. It also
 * keeps the reports unambiguous (they name no snapshot): the core's progress for that
 * peer sees the new one fail at once, and the old one's outcome only after.
 */
export class PeerTransport {
  private readonly links = new Map<string, PeerLink>();
  /** Peers whose messages to them are dropped here (a cut link, or a one-way cut outbound). */
  private blockedOut = new Set<string>();
  /** Peers whose messages to this server are dropped on arrival (a cut link, or a one-way cut inbound). */
  private blockedIn = new Set<string>();
  private closed = false;
  private readonly onSnapshotReport: (peer: string, ok: boolean) => void;
  private readonly snapshotDeadlineMs: (bytes: number) => number;
  private readonly snapshotChunkBytes: number;
  private readonly onRefused: (peer: string, details: string) => void;

  constructor(
    private readonly selfId: string,
    peers: PeerAddress[],
    /** A stream to `peer` broke with an error: its process is likely gone (see Raft.leaderUnreachable). */
    private readonly onLinkDown: (peer: string) => void = () => undefined,
    options: PeerTransportOptions = {},
  ) {
    this.onSnapshotReport = options.onSnapshotReport ?? (() => undefined);
    this.snapshotDeadlineMs = options.snapshotDeadlineMs ?? snapshotDeadlineMs;
    this.snapshotChunkBytes = options.snapshotChunkBytes ?? SNAPSHOT_CHUNK_BYTES;
    this.onRefused = options.onRefused ?? (() => undefined);
    for (const p of peers) if (p.id !== selfId) this.addPeer(p.id, p.addr);
  }

  /**
   * Starts sending to `id` at `addr` (a member added by a configuration change, Raft §6:
   * the server calls it when Ready.confState or an applied config entry names a member it
   * does not dial yet). The connection is made lazily, at the first send. Adding a peer
   * already known at the same address changes nothing; at another address, the old link
   * is closed first (its snapshot in flight reported failed). Ignored after close().
   */
  addPeer(id: string, addr: string): void {
    if (this.closed || id === this.selfId) return;
    const old = this.links.get(id);
    if (old?.addr === addr) return;
    if (old) this.removePeer(id);
    this.links.set(id, {
      id,
      addr,
      client: new RaftPeerService(addr, grpc.credentials.createInsecure(), channelOptions),
      stream: null,
      congested: false,
      snapshotClient: null,
      snapshot: null,
    });
  }

  /**
   * Stops sending to `id` (removed from the configuration): ends its stream, cancels a
   * snapshot on its way (reported failed, as close() does) and closes its clients;
   * messages to it are dropped from now on. Unknown ids are ignored.
   */
  removePeer(id: string): void {
    const link = this.links.get(id);
    if (!link) return;
    this.links.delete(id);
    this.cancelSnapshot(link);
    const stream = link.stream;
    link.stream = null;
    stream?.end();
    link.client.close();
    link.snapshotClient?.close();
  }

  /** The peers this transport sends to, with their addresses. */
  peers(): PeerAddress[] {
    return [...this.links.values()].map((l) => ({ id: l.id, addr: l.addr }));
  }

  send(messages: Message[]): void {
    beforeSend();
    const byPeer = new Map<string, WireRaftMessage[][]>();
    const batchBytes = new Map<string, number>();
    for (const m of messages) {
      if (m.type === 'InstallSnapshot') {
        this.sendSnapshot(m);
        continue;
      }
      if (this.blockedOut.has(m.to)) continue;
      const wire = messageToWire(m);
      const size = wireMessageSize(wire, m.type === 'AppendEntries' ? m.entries : []);
      const batches = byPeer.get(m.to) ?? [[]];
      byPeer.set(m.to, batches);
      const bytes = batchBytes.get(m.to) ?? 0;
      if (bytes > 0 && bytes + size > MAX_BATCH_BYTES) {
        batches.push([]);
        batchBytes.set(m.to, 0);
      }
      batches.at(-1)!.push(wire);
      batchBytes.set(m.to, (batchBytes.get(m.to) ?? 0) + size);
    }
    for (const [to, batches] of byPeer) {
      const link = this.links.get(to);
      if (!link) continue;
      for (const batch of batches) {
        if (link.congested) break;
        const stream = link.stream ?? this.open(link);
        if (!stream.write({ messages: batch })) {
          link.congested = true;
          stream.once('drain', () => (link.congested = false));
        }
      }
    }
  }

  private open(link: PeerLink): grpc.ClientWritableStream<{ messages: WireRaftMessage[] }> {
    const method = (link.client as unknown as Record<string, Function>).Stream;
    const stream = method.call(link.client, (err: grpc.ServiceError | null) => {
      // Ended or broken (the peer died): lost like any message; the next send reopens.
      if (link.stream !== stream) return;
      link.stream = null;
      link.congested = false;
      if (err && !this.closed) this.onLinkDown(link.id);
      if (err?.code === grpc.status.PERMISSION_DENIED && !this.closed) this.onRefused(link.id, err.details);
    }) as grpc.ClientWritableStream<{ messages: WireRaftMessage[] }>;
    stream.on('error', () => undefined);
    link.stream = stream;
    return stream;
  }

  /**
   * Streams one InstallSnapshot to its peer, or reports it failed at once: after close(),
   * to a peer we do not know or whose link is blocked, when another is on its way to that
   * peer, or over MAX_SNAPSHOT_BYTES (the receiver would refuse it).
   */
  private sendSnapshot(m: InstallSnapshot): void {
    const link = this.links.get(m.to);
    const bytes = m.snapshot.data.byteLength;
    if (this.closed || !link || this.blockedOut.has(m.to) || link.snapshot) {
      this.report(m.to, false);
      return;
    }
    if (bytes > MAX_SNAPSHOT_BYTES) {
      console.error(`InstallSnapshot to ${m.to}: ${bytes} bytes is over the limit of ${MAX_SNAPSHOT_BYTES}; not sent`);
      this.report(m.to, false);
      return;
    }
    const transfer: SnapshotTransfer = { peer: m.to, call: null, finished: false };
    link.snapshot = transfer;
    const client = (link.snapshotClient ??= new RaftPeerService(link.addr, grpc.credentials.createInsecure(), snapshotChannelOptions));
    const method = (client as unknown as Record<string, Function>).InstallSnapshot;
    const call = method.call(client, { deadline: Date.now() + this.snapshotDeadlineMs(bytes) }, (err: grpc.ServiceError | null) =>
      this.endSnapshot(link, transfer, err === null),
    ) as grpc.ClientWritableStream<WireSnapshotChunk>;
    call.on('error', () => undefined);
    transfer.call = call;
    const chunks = snapshotChunks(m, this.snapshotChunkBytes);
    // Chunks are views of the snapshot's data: what waits in the call's buffer costs no copy.
    const pump = (): void => {
      while (!transfer.finished) {
        const next = chunks.next();
        if (next.done) {
          call.end();
          return;
        }
        if (!call.write(next.value)) {
          call.once('drain', pump);
          return;
        }
      }
    };
    pump();
  }

  /** The transfer ended (`ok`: the receiver answered OK); reported once, however it ended. */
  private endSnapshot(link: PeerLink, transfer: SnapshotTransfer, ok: boolean): void {
    if (transfer.finished) return;
    transfer.finished = true;
    if (link.snapshot === transfer) link.snapshot = null;
    this.report(transfer.peer, ok);
  }

  private cancelSnapshot(link: PeerLink): void {
    const transfer = link.snapshot;
    if (!transfer) return;
    this.endSnapshot(link, transfer, false);
    transfer.call?.cancel();
  }

  /** Later, never from inside our caller (the node may be in the middle of a Ready). */
  private report(peer: string, ok: boolean): void {
    queueMicrotask(() => {
      try {
        this.onSnapshotReport(peer, ok);
      } catch (err) {
        console.error(`snapshot report for ${peer} failed: ${(err as Error).message}`);
      }
    });
  }

  /**
   * Cuts (or restores) links: messages to and from `peers` are dropped here, and a
   * snapshot on its way to one of them is cancelled and reported failed. `oneWay` cuts a
   * single direction (chaos runs): `inbound` peers are not heard but still sent to,
   * `outbound` peers are heard but not sent to. Each call replaces every cut.
   */
  setBlocked(peers: Iterable<string>, oneWay: { inbound?: Iterable<string>; outbound?: Iterable<string> } = {}): void {
    const both = [...peers];
    this.blockedOut = new Set([...both, ...(oneWay.outbound ?? [])]);
    this.blockedIn = new Set([...both, ...(oneWay.inbound ?? [])]);
    for (const link of this.links.values()) if (this.blockedOut.has(link.id)) this.cancelSnapshot(link);
  }

  /** Some direction of the link with `peer` is cut. */
  isBlocked(peer: string): boolean {
    return this.blockedOut.has(peer) || this.blockedIn.has(peer);
  }

  /** Messages from `peer` are dropped on arrival. */
  isBlockedInbound(peer: string): boolean {
    return this.blockedIn.has(peer);
  }

  /** Ends the peer streams and cancels snapshots on their way (each reported failed). */
  close(): void {
    this.closed = true;
    for (const link of this.links.values()) {
      this.cancelSnapshot(link);
      link.stream?.end();
      link.client.close();
      link.snapshotClient?.close();
    }
  }
}

/**
 * The RaftPeer service: decodes batches and hands them to the node; bad input is refused.
 *
 * Who may send: `members` is either a fixed list (anyone else is refused INVALID_ARGUMENT,
 * "not a peer"), or a SenderCheck the server answers from its current membership (Raft
 * §6): a sender it refuses (a removed server) gets PERMISSION_DENIED with the reason, on
 * the batch stream, Deliver and InstallSnapshot alike, and the sender's transport reports
 * it (PeerTransportOptions.onRefused). A batch from this server's own id is always refused.
 *
 * InstallSnapshot reassembles one snapshot per call (SnapshotAssembler) and, only when the
 * call ends with every byte received, hands the node ONE InstallSnapshot and answers OK.
 * Refused with INVALID_ARGUMENT, delivering nothing: a chunk without a header or whose
 * header differs from the first one's, a sender that is not a peer, a snapshot for
 * another server, an offset other than the bytes received so far, more data than
 * totalBytes, totalBytes over MAX_SNAPSHOT_BYTES, or a call that ends early. UNAVAILABLE
 * while the link from the sender is blocked (as a cut link, which fails a transfer);
 * INTERNAL if the node throws on it. A cancelled or broken call delivers nothing.
 */
export function raftPeerHandlers(
  selfId: string,
  members: string[] | SenderCheck,
  transport: PeerTransport,
  onMessages: (messages: Message[]) => void,
): grpc.UntypedServiceImplementation {
  // Strangers are refused as malformed input (INVALID_ARGUMENT); a removed server with
  // PERMISSION_DENIED, which tells it to stop.
  const check: SenderCheck = Array.isArray(members) ? fixedMembers(selfId, members) : members;
  const refuseIfStranger = (from: string, type: Message['type']): void => {
    const refusal = from === selfId ? { reason: `sender "${from}" is not a peer of ${selfId}`, removed: false } : check(from, type);
    if (refusal !== null) throw new RefusedSender(refusal.reason, refusal.removed);
  };
  const decode = (batch: { messages: WireRaftMessage[] }): Message[] => {
    const messages = batch.messages.map(messageFromWire);
    for (const m of messages) refuseIfStranger(m.from, m.type);
    return messages;
  };
  const accept = (messages: Message[]) => {
    const accepted = messages.filter((m) => m.to === selfId && !transport.isBlockedInbound(m.from));
    try {
      if (accepted.length > 0) onMessages(accepted);
    } catch (err) {
      // A message the core could not take is dropped like a lost one; the node goes on.
      console.error(`${selfId}: dropped a Raft batch: ${(err as Error).message}`);
    }
  };
  return {
    Deliver(call: grpc.ServerUnaryCall<{ messages: WireRaftMessage[] }, object>, callback: grpc.sendUnaryData<object>) {
      let messages: Message[];
      try {
        messages = decode(call.request);
      } catch (err) {
        callback(refusal(err));
        return;
      }
      callback(null, {});
      accept(messages);
    },
    Stream(call: grpc.ServerReadableStream<{ messages: WireRaftMessage[] }, object>, callback: grpc.sendUnaryData<object>) {
      let done = false;
      const finish = (err: grpc.ServiceError | null) => {
        if (done) return;
        done = true;
        callback(err, err ? undefined : {});
      };
      call.on('data', (batch: { messages: WireRaftMessage[] }) => {
        if (done) return;
        try {
          accept(decode(batch));
        } catch (err) {
          // A peer that sends garbage loses its stream; it reopens one with its next send.
          finish(refusal(err) as grpc.ServiceError);
        }
      });
      call.on('end', () => finish(null));
      call.on('error', () => undefined);
    },
    InstallSnapshot(call: grpc.ServerReadableStream<WireSnapshotChunk, object>, callback: grpc.sendUnaryData<object>) {
      const snapshot = new SnapshotAssembler((h) => {
        refuseIfStranger(h.from, 'InstallSnapshot');
        if (h.to !== selfId) throw new Error(`snapshot for "${h.to}" reached ${selfId}`);
      });
      let done = false;
      const finish = (err: Partial<grpc.ServiceError> | null) => {
        if (done) return;
        done = true;
        snapshot.discard();
        callback(err as grpc.ServiceError | null, err ? undefined : {});
      };
      const refuse = (err: unknown) =>
        finish(err instanceof RefusedSender && err.denied ? refusal(err) : { code: grpc.status.INVALID_ARGUMENT, details: `malformed snapshot: ${(err as Error).message}` });
      const blocked = (): boolean => {
        const from = snapshot.current?.from;
        if (from === undefined || !transport.isBlockedInbound(from)) return false;
        finish({ code: grpc.status.UNAVAILABLE, details: `the link from ${from} to ${selfId} is blocked` });
        return true;
      };
      call.on('data', (chunk: WireSnapshotChunk) => {
        if (done) return;
        try {
          snapshot.add(chunk);
        } catch (err) {
          refuse(err);
          return;
        }
        blocked();
      });
      call.on('end', () => {
        if (done || blocked()) return;
        let m: Message;
        try {
          m = snapshot.finish();
        } catch (err) {
          refuse(err);
          return;
        }
        try {
          onMessages([m]);
        } catch (err) {
          console.error(`${selfId}: dropped an InstallSnapshot: ${(err as Error).message}`);
          finish({ code: grpc.status.INTERNAL, details: `the node did not take the snapshot: ${(err as Error).message}` });
          return;
        }
        finish(null);
      });
      // Cancelled by the sender, or broken: nothing was delivered, nothing will be.
      const abort = () => {
        done = true;
        snapshot.discard();
      };
      call.on('cancelled', abort);
      call.on('error', abort);
      call.on('close', abort);
    },
  };
}

/**
 * Whether this server takes a Raft message of `type` from `from`: null to take it, or why
 * not (a sentence for the sender's log) and whether because `from` was removed from the
 * cluster (answered PERMISSION_DENIED, else INVALID_ARGUMENT). Membership changes (Raft §6) make the set of senders
 * change while the server runs, so the server passes a function that consults its
 * current membership (src/server/membership.ts).
 */
export type SenderCheck = (from: string, type: Message['type']) => { reason: string; removed: boolean } | null;

/** A fixed set of members, as before membership changes: anyone else is a stranger. */
function fixedMembers(selfId: string, members: string[]): SenderCheck {
  const known = new Set(members);
  return (from) => (known.has(from) ? null : { reason: `sender "${from}" is not a peer of ${selfId}`, removed: false });
}

/** A sender this server does not take messages from (removed, or a stranger); `denied`: by the membership. */
class RefusedSender extends Error {
  constructor(
    message: string,
    readonly denied: boolean,
  ) {
    super(message);
  }
}

/**
 * The gRPC error for a refused batch: PERMISSION_DENIED for a sender refused by
 * membership (removed from the cluster: it should stop, not retry), INVALID_ARGUMENT for
 * a malformed message.
 */
function refusal(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof RefusedSender && err.denied) return { code: grpc.status.PERMISSION_DENIED, details: `refused: ${err.message}` };
  return { code: grpc.status.INVALID_ARGUMENT, details: `malformed Raft message: ${(err as Error).message}` };
}
