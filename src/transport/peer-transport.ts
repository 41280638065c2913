import * as grpc from '@grpc/grpc-js';
import { beforeSend } from '../../tracing/send-barrier.ts';
import type { Message } from '../raft/types.ts';
import { messageFromWire, messageToWire } from './codec.ts';
import { channelOptions, RaftPeerService } from './proto.ts';
import type { WireRaftMessage } from './wire.ts';
import { MAX_BATCH_BYTES, wireMessageSize } from './wire-size.ts';

interface PeerAddress {
  id: string;
  addr: string;
}

interface PeerLink {
  id: string;
  client: grpc.Client;
  stream: grpc.ClientWritableStream<{ messages: WireRaftMessage[] }> | null;
  /** The stream's buffer is full (a paused peer): drop until it drains. */
  congested: boolean;
}

/**
 * Sends Raft messages to peers over one long-lived gRPC stream each, one batch per peer
 * per Ready, split into gRPC messages of at most MAX_BATCH_BYTES (a single bigger Raft
 * message goes alone), so a Ready full of pipelined AppendEntries never meets gRPC's
 * message limit. Raft tolerates loss, so a dead, paused or slow peer costs dropped
 * messages, never a blocked node: a broken stream is reopened on the next send, and a
 * full one drops until it drains.
 */
export class PeerTransport {
  private readonly links = new Map<string, PeerLink>();
  private blocked = new Set<string>();
  private closed = false;

  constructor(
    selfId: string,
    peers: PeerAddress[],
    /** A stream to `peer` broke with an error: its process is likely gone (see Raft.leaderUnreachable). */
    private readonly onLinkDown: (peer: string) => void = () => undefined,
  ) {
    for (const p of peers) {
      if (p.id === selfId) continue;
      this.links.set(p.id, { id: p.id, client: new RaftPeerService(p.addr, grpc.credentials.createInsecure(), channelOptions), stream: null, congested: false });
    }
  }

  send(messages: Message[]): void {
    beforeSend();
    const byPeer = new Map<string, WireRaftMessage[][]>();
    const batchBytes = new Map<string, number>();
    for (const m of messages) {
      if (this.blocked.has(m.to)) continue;
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
    }) as grpc.ClientWritableStream<{ messages: WireRaftMessage[] }>;
    stream.on('error', () => undefined);
    link.stream = stream;
    return stream;
  }

  /** Cuts (or restores) links: messages to and from these peers are dropped here. */
  setBlocked(peers: Iterable<string>): void {
    this.blocked = new Set(peers);
  }

  isBlocked(peer: string): boolean {
    return this.blocked.has(peer);
  }

  close(): void {
    this.closed = true;
    for (const link of this.links.values()) {
      link.stream?.end();
      link.client.close();
    }
  }
}

/** The RaftPeer service: decodes batches and hands them to the node; bad input is refused. */
export function raftPeerHandlers(selfId: string, members: string[], transport: PeerTransport, onMessages: (messages: Message[]) => void): grpc.UntypedServiceImplementation {
  const known = new Set(members);
  const decode = (batch: { messages: WireRaftMessage[] }): Message[] => {
    const messages = batch.messages.map(messageFromWire);
    const stranger = messages.find((m) => !known.has(m.from) || m.from === selfId);
    if (stranger) throw new Error(`sender "${stranger.from}" is not a peer of ${selfId}`);
    return messages;
  };
  const accept = (messages: Message[]) => {
    const accepted = messages.filter((m) => m.to === selfId && !transport.isBlocked(m.from));
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
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `malformed Raft message: ${(err as Error).message}` });
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
          finish({ code: grpc.status.INVALID_ARGUMENT, details: `malformed Raft message: ${(err as Error).message}` } as grpc.ServiceError);
        }
      });
      call.on('end', () => finish(null));
      call.on('error', () => undefined);
    },
  };
}
