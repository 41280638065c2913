import * as grpc from '@grpc/grpc-js';
import { CallStream, type SessionRequest } from '../transport/call-stream.ts';
import { channelOptions, KVService } from '../transport/proto.ts';
import type { WireClientReply } from '../transport/wire.ts';
import type { ServerEntry } from './config.ts';

/** Sessions to the other servers, for a follower that forwards a request to the leader. */
export class Forwarder {
  private readonly clients = new Map<string, { client: grpc.Client; session: CallStream }>();

  /**
   * `isCut(peer)`: the link to that server is cut on purpose (SetBlockedPeers), so a
   * partition stops forwarded requests as it stops Raft messages.
   */
  constructor(
    servers: ServerEntry[],
    selfId: string,
    private readonly isCut: (peer: string) => boolean = () => false,
  ) {
    for (const s of servers) {
      if (s.id === selfId) continue;
      const client = new KVService(s.addr, grpc.credentials.createInsecure(), channelOptions);
      this.clients.set(s.id, { client, session: new CallStream(client, `${s.id}@${s.addr}`) });
    }
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
