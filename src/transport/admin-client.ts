import * as grpc from '@grpc/grpc-js';
import { AdminService, channelOptions } from './proto.ts';
import { unary } from './unary.ts';
import type { WireStatus } from './wire.ts';

/** Operator calls to one server: its status, and cutting its links to peers. */
export class AdminClient {
  private readonly client: grpc.Client;

  constructor(readonly addr: string) {
    this.client = new AdminService(addr, grpc.credentials.createInsecure(), channelOptions);
  }

  status(deadlineMs = 1000): Promise<WireStatus> {
    return unary(this.client, 'Status', {}, deadlineMs);
  }

  setBlockedPeers(peers: string[], deadlineMs = 1000): Promise<WireStatus> {
    return unary(this.client, 'SetBlockedPeers', { peers }, deadlineMs);
  }

  close(): void {
    this.client.close();
  }
}
