import * as grpc from '@grpc/grpc-js';
import type { Message } from '../raft/types.ts';
import { messageFromWire, messageToWire } from './codec.ts';
import { channelOptions, RaftPeerService } from './proto.ts';
import { unary } from './unary.ts';
import type { WireRaftMessage } from './wire.ts';

export interface PeerAddress {
  id: string;
  addr: string;
}

export interface PeerTransportOptions {
  /** A Deliver call that takes longer is abandoned: Raft resends what matters. */
  deadlineMs: number;
  /** Calls in flight to one peer beyond which new messages to it are dropped. */
  maxInflight: number;
}

/**
 * Sends Raft messages to peers over gRPC, one Deliver call per peer per batch. Raft
 * tolerates loss, so a dead or slow peer costs dropped messages, never a blocked node.
 */
export class PeerTransport {
  private readonly clients = new Map<string, { client: grpc.Client; inflight: number }>();
  private blocked = new Set<string>();

  constructor(
    private readonly selfId: string,
    peers: PeerAddress[],
    private readonly opts: PeerTransportOptions,
  ) {
    for (const p of peers) {
      if (p.id === selfId) continue;
      this.clients.set(p.id, { client: new RaftPeerService(p.addr, grpc.credentials.createInsecure(), channelOptions), inflight: 0 });
    }
  }

  send(messages: Message[]): void {
    const byPeer = new Map<string, WireRaftMessage[]>();
    for (const m of messages) {
      if (this.blocked.has(m.to)) continue;
      const list = byPeer.get(m.to) ?? [];
      list.push(messageToWire(m));
      byPeer.set(m.to, list);
    }
    for (const [to, batch] of byPeer) {
      const peer = this.clients.get(to);
      if (!peer || peer.inflight >= this.opts.maxInflight) continue;
      peer.inflight++;
      unary(peer.client, 'Deliver', { messages: batch }, this.opts.deadlineMs)
        .catch(() => undefined) // lost like any message: Raft retries what matters
        .finally(() => {
          peer.inflight--;
        });
    }
  }

  /** Cuts (or restores) links: messages to and from these peers are dropped here. */
  setBlocked(peers: Iterable<string>): void {
    this.blocked = new Set(peers);
  }

  isBlocked(peer: string): boolean {
    return this.blocked.has(peer);
  }

  blockedPeers(): string[] {
    return [...this.blocked];
  }

  close(): void {
    for (const { client } of this.clients.values()) client.close();
  }
}

/** The RaftPeer service: decodes a batch and hands it to the node; bad input is refused. */
export function raftPeerHandlers(selfId: string, members: string[], transport: PeerTransport, onMessages: (messages: Message[]) => void): grpc.UntypedServiceImplementation {
  const known = new Set(members);
  return {
    Deliver(call: grpc.ServerUnaryCall<{ messages: WireRaftMessage[] }, object>, callback: grpc.sendUnaryData<object>) {
      let messages: Message[];
      try {
        messages = call.request.messages.map(messageFromWire);
        const stranger = messages.find((m) => !known.has(m.from) || m.from === selfId);
        if (stranger) throw new Error(`sender "${stranger.from}" is not a peer of ${selfId}`);
      } catch (err) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `malformed Raft message: ${(err as Error).message}` });
        return;
      }
      callback(null, {});
      const accepted = messages.filter((m) => m.to === selfId && !transport.isBlocked(m.from));
      try {
        if (accepted.length > 0) onMessages(accepted);
      } catch (err) {
        // A message the core could not take is dropped like a lost one; the node goes on.
        console.error(`${selfId}: dropped a Raft batch: ${(err as Error).message}`);
      }
    },
  };
}
