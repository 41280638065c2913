import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import type { AppendEntries, Message } from '../../src/raft/types.ts';
import { PeerTransport, raftPeerHandlers, type SenderCheck } from '../../src/transport/peer-transport.ts';
import { RaftPeerService, serverOptions } from '../../src/transport/proto.ts';

/**
 * PeerTransport's peers follow the membership (Raft §6): addPeer/removePeer, and the
 * receiver's SenderCheck refusing a removed sender with PERMISSION_DENIED, which the
 * sender's transport reports (onRefused). Real gRPC on loopback.
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

const heartbeat = (from: string, to: string, readSeq: number): AppendEntries => ({
  type: 'AppendEntries', from, to, term: 7, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, readSeq,
});

/** A server "b" whose node's arrivals land in `arrivals`; `check` decides who may send. */
async function receiver(check: SenderCheck) {
  const arrivals: Message[] = [];
  const transport = new PeerTransport('b', []);
  cleanups.push(() => transport.close());
  const server = new grpc.Server(serverOptions);
  server.addService(RaftPeerService.service, raftPeerHandlers('b', check, transport, (ms) => arrivals.push(...ms)));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  cleanups.push(() => server.forceShutdown());
  return { addr: `127.0.0.1:${port}`, arrivals };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('PeerTransport peers follow the membership', () => {
  it('addPeer starts sending to a new member, removePeer stops it', async () => {
    const b = await receiver(() => null);
    const a = new PeerTransport('a', []);
    cleanups.push(() => a.close());
    a.send([heartbeat('a', 'b', 1)]);
    expect(a.peers()).toEqual([]);
    a.addPeer('b', b.addr);
    a.addPeer('b', b.addr); // the same address: nothing changes
    expect(a.peers()).toEqual([{ id: 'b', addr: b.addr }]);
    a.send([heartbeat('a', 'b', 2)]);
    await waitFor('the heartbeat', () => b.arrivals.length === 1);
    expect((b.arrivals[0] as AppendEntries).readSeq).toBe(2);
    a.removePeer('b');
    expect(a.peers()).toEqual([]);
    a.send([heartbeat('a', 'b', 3)]);
    await new Promise((r) => setTimeout(r, 200));
    expect(b.arrivals.length).toBe(1);
  });

  it('a removed sender is refused PERMISSION_DENIED and told why; a stranger\'s vote INVALID_ARGUMENT', async () => {
    const check: SenderCheck = (from, type) =>
      from === 'gone' ? { reason: 'gone was removed from the cluster at index 9; it takes no more part', removed: true } : from === 'evil' && type === 'RequestVote' ? { reason: 'sender "evil" is not a peer of b', removed: false } : null;
    const b = await receiver(check);
    const refused: { peer: string; details: string }[] = [];
    const gone = new PeerTransport('gone', [{ id: 'b', addr: b.addr }], undefined, { onRefused: (peer, details) => refused.push({ peer, details }) });
    cleanups.push(() => gone.close());
    gone.send([heartbeat('gone', 'b', 1)]);
    await waitFor('the refusal', () => refused.length === 1);
    expect(refused[0]).toEqual({ peer: 'b', details: 'refused: gone was removed from the cluster at index 9; it takes no more part' });
    expect(b.arrivals).toEqual([]);

    const client = new RaftPeerService(b.addr, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const deliver = (m: object) =>
      new Promise<grpc.ServiceError | null>((resolve) => (client as unknown as Record<string, Function>).Deliver.call(client, { messages: [m] }, (err: grpc.ServiceError | null) => resolve(err)));
    const vote = await deliver({ from: 'evil', to: 'b', token: '', requestVote: { term: 99, lastLogIndex: 0, lastLogTerm: 0, preVote: false } });
    expect(vote?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(vote?.details).toMatch(/not a peer of b/);
    // The same stranger's AppendEntries is taken (a member added while this one lagged).
    const ae = await deliver({ from: 'evil', to: 'b', token: '', appendEntries: { term: 7, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, readSeq: 5 } });
    expect(ae).toBeNull();
    await waitFor('the AppendEntries', () => b.arrivals.length === 1);
  });
});
