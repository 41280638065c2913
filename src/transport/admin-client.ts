import * as grpc from '@grpc/grpc-js';
import { AdminService, channelOptions } from './proto.ts';
import { unary } from './unary.ts';
import type { WireAdminResult, WireMemberList, WireStatus } from './wire.ts';

/** Operator calls to one server: its status, cutting its links to peers, membership and leadership transfer. */
export class AdminClient {
  private readonly client: grpc.Client;

  constructor(readonly addr: string) {
    this.client = new AdminService(addr, grpc.credentials.createInsecure(), channelOptions);
  }

  status(deadlineMs = 1000): Promise<WireStatus> {
    return unary(this.client, 'Status', {}, deadlineMs);
  }

  /** Cuts links to `peers` (both ways) and, one way only, from `oneWay.inbound` / to `oneWay.outbound`; replaces every cut. */
  setBlockedPeers(peers: string[], deadlineMs = 1000, oneWay: { inbound?: string[]; outbound?: string[] } = {}): Promise<WireStatus> {
    return unary(this.client, 'SetBlockedPeers', { peers, inboundOnly: oneWay.inbound ?? [], outboundOnly: oneWay.outbound ?? [] }, deadlineMs);
  }

  /** Chaos fault injection (src/server/fault-injection.ts): replaces the faults in force; zeros clear them. */
  injectFault(faults: { clockSkewMs: number; fsyncDelayMs: number }, deadlineMs = 1000): Promise<WireStatus> {
    return unary(this.client, 'InjectFault', faults, deadlineMs);
  }

  /** The configuration in force on this server (members, learners, joint or not). */
  memberList(deadlineMs = 1000): Promise<WireMemberList> {
    return unary(this.client, 'MemberList', {}, deadlineMs);
  }

  /** Adds `id` at `addr` as a learner (promoted once caught up unless `learner`); only the leader does it. */
  memberAdd(id: string, addr: string, learner: boolean, deadlineMs = 10_000): Promise<WireAdminResult> {
    return unary(this.client, 'MemberAdd', { id, addr, learner }, deadlineMs);
  }

  /** Makes learner `id` a voter (refused until it has caught up); only the leader does it. */
  memberPromote(id: string, deadlineMs = 10_000): Promise<WireAdminResult> {
    return unary(this.client, 'MemberPromote', { id }, deadlineMs);
  }

  /** Removes `id` from the configuration; only the leader does it. */
  memberRemove(id: string, deadlineMs = 10_000): Promise<WireAdminResult> {
    return unary(this.client, 'MemberRemove', { id }, deadlineMs);
  }

  /** Hands leadership to `target` ('' : the most up-to-date other voter); only the leader does it. */
  transferLeader(target: string, deadlineMs = 10_000): Promise<WireAdminResult> {
    return unary(this.client, 'TransferLeader', { target }, deadlineMs);
  }

  close(): void {
    this.client.close();
  }
}
