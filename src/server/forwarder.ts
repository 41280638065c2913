import * as grpc from '@grpc/grpc-js';
import { channelOptions, KVService } from '../transport/proto.ts';
import { unary } from '../transport/unary.ts';
import type { WireClientReply, WireClientRequest } from '../transport/wire.ts';
import type { ServerEntry } from './config.ts';

/** KV clients to the other servers, for a follower that forwards a request to the leader. */
export class Forwarder {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(servers: ServerEntry[], selfId: string) {
    for (const s of servers) {
      if (s.id !== selfId) this.clients.set(s.id, new KVService(s.addr, grpc.credentials.createInsecure(), channelOptions));
    }
  }

  execute(leaderId: string, request: WireClientRequest, deadlineMs: number): Promise<WireClientReply> {
    const client = this.clients.get(leaderId);
    if (!client) return Promise.reject(new Error(`unknown server ${leaderId}`));
    return unary(client, 'Execute', request, deadlineMs);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
  }
}
