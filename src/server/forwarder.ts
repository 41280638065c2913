import * as grpc from '@grpc/grpc-js';
import { CallStream, type SessionRequest } from '../transport/call-stream.ts';
import { channelOptions, KVService } from '../transport/proto.ts';
import type { WireClientReply } from '../transport/wire.ts';
import type { ServerEntry } from './config.ts';

/** Sessions to the other servers, for a follower that forwards a request to the leader. */
export class Forwarder {
  private readonly clients = new Map<string, { addr: string; client: grpc.Client; session: CallStream }>();

  /**
   * `isCut(peer)`: the link to that server is cut on purpose (SetBlockedPeers), so a
   * partition stops forwarded requests as it stops Raft messages.
   */
  constructor(
    servers: ServerEntry[],
    private readonly selfId: string,
    private readonly isCut: (peer: string) => boolean = () => false,
  ) {
    for (const s of servers) if (s.id !== selfId) this.addPeer(s.id, s.addr);
  }

  /**
   * Knows `id` at `addr` from now on (a member added by a configuration change, Raft §6),
   * so a request can be forwarded to it once it leads. Same address: nothing changes;
   * another one: the old session is closed first.
   */
  addPeer(id: string, addr: string): void {
    if (id === this.selfId) return;
    const old = this.clients.get(id);
    if (old?.addr === addr) return;
    if (old) this.removePeer(id);
    const client = new KVService(addr, grpc.credentials.createInsecure(), channelOptions);
    this.clients.set(id, { addr, client, session: new CallStream(client, `${id}@${addr}`) });
  }

  /** Forgets `id` (removed from the configuration): its session and connection are closed. */
  removePeer(id: string): void {
    const peer = this.clients.get(id);
    if (!peer) return;
    this.clients.delete(id);
    peer.session.close();
    peer.client.close();
  }

  execute(leaderId: string, request: SessionRequest, timeoutMs: number): Promise<WireClientReply> {
    const peer = this.clients.get(leaderId);
    if (!peer) return Promise.reject(new Error(`unknown server ${leaderId}`));
    if (this.isCut(leaderId)) return Promise.reject(new Error(`the link to ${leaderId} is cut`));
    return peer.session.call(request, timeoutMs);
  }

  close(): void {
    for (const { client, session } of this.clients.values()) {
      session.close();
      client.close();
    }
  }
}
