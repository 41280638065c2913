import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallStream, type SessionRequest } from '../../src/transport/call-stream.ts';
import { channelOptions, KVService } from '../../src/transport/proto.ts';
import type { WireClientReply, WireClientRequest } from '../../src/transport/wire.ts';

/**
 * CallStream against a real gRPC server on loopback whose Session handler the test
 * scripts: what it does with each request decides what the caller must see.
 */
type SessionCall = grpc.ServerDuplexStream<{ requests: WireClientRequest[] }, { replies: WireClientReply[] }>;
type Behaviour = (req: WireClientRequest, answer: (reply: WireClientReply) => void, call: SessionCall) => void;

let server: grpc.Server;
let client: grpc.Client;
let behaviour: Behaviour;
let sessionsOpened: number;
let batchesReceived: number;

const reply = (req: WireClientRequest, value: string): WireClientReply => ({
  ok: true, value, values: [], error: '', code: '', leaderId: '', servedBy: 's', token: '', callId: req.callId,
});

const request = (opId: number): SessionRequest => ({
  clientId: 'c', opId, firstUnacked: 1, op: { get: `k${opId}` }, traceId: '', token: '', forwarded: false,
});

beforeEach(async () => {
  sessionsOpened = 0;
  behaviour = (req, answer) => answer(reply(req, `v${req.opId}`));
  server = new grpc.Server();
  server.addService(KVService.service, {
    Execute: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED }),
    Session(call: SessionCall) {
      sessionsOpened++;
      batchesReceived = 0;
      const answer = (r: WireClientReply) => call.write({ replies: [r] });
      call.on('data', ({ requests }: { requests: WireClientRequest[] }) => {
        batchesReceived++;
        for (const req of requests) behaviour(req, answer, call);
      });
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  client = new KVService(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), channelOptions);
});

afterEach(() => {
  client.close();
  server.forceShutdown();
});

describe('CallStream', () => {
  it('matches replies to calls by callId when they come back out of order, on one stream', async () => {
    const held: WireClientRequest[] = [];
    behaviour = (req, answer) => {
      held.push(req);
      if (held.length === 3) for (const r of held.reverse()) answer(reply(r, `v${r.opId}`));
    };
    const s = new CallStream(client, 'test');
    const replies = await Promise.all([1, 2, 3].map((op) => s.call(request(op), 5000)));
    expect(replies.map((r) => r.value)).toEqual(['v1', 'v2', 'v3']);
    expect(sessionsOpened).toBe(1);
    // Issued in one turn of the event loop: one message carried all three.
    expect(batchesReceived).toBe(1);
    s.close();
  });

  it('sends the caller its timeout, and fails only the call that got no reply in time', async () => {
    const seen: WireClientRequest[] = [];
    behaviour = (req, answer) => {
      seen.push(req);
      if (req.opId !== 2) answer(reply(req, `v${req.opId}`));
    };
    const s = new CallStream(client, 'server9');
    const silent = s.call(request(2), 300).then(() => 'resolved', (err: Error) => err.message);
    expect((await s.call(request(1), 5000)).value).toBe('v1');
    expect(await silent).toBe('server9: no reply within 300 ms');
    expect(seen.find((r) => r.opId === 2)?.timeoutMs).toBe(300);
    // The stream is still good for later calls.
    expect((await s.call(request(3), 5000)).value).toBe('v3');
    s.close();
  });

  it('fails every pending call at once when the server ends the session, then opens a new one', async () => {
    let ended = false;
    behaviour = (req, answer, call) => {
      if (!ended && req.opId === 3) {
        ended = true;
        call.end();
      } else if (ended) {
        answer(reply(req, `v${req.opId}`));
      }
    };
    const s = new CallStream(client, 'test');
    const started = Date.now();
    const outcomes = await Promise.all([1, 2, 3].map((op) => s.call(request(op), 10_000).then(() => 'resolved', (err: Error) => err.message)));
    // Long before the 10 s timeout: the broken stream is the answer.
    expect(Date.now() - started).toBeLessThan(5000);
    for (const o of outcomes) expect(o).toMatch(/^test: /);
    expect((await s.call(request(4), 5000)).value).toBe('v4');
    expect(sessionsOpened).toBe(2);
    s.close();
  });

  it('fails pending calls promptly when the server goes away', async () => {
    behaviour = () => undefined;
    const s = new CallStream(client, 'gone');
    const started = Date.now();
    const pending = s.call(request(1), 20_000).then(() => 'resolved', (err: Error) => err.message);
    await new Promise((r) => setTimeout(r, 100)); // let the request reach the server
    server.forceShutdown();
    expect(await pending).toMatch(/^gone: /);
    expect(Date.now() - started).toBeLessThan(10_000);
    s.close();
  });

  it('a server nobody listens for fails the call with gRPC\'s reason, without its empty "Resolution note: "', async () => {
    const free = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) => free.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    free.forceShutdown(); // the port is free again: connections are refused
    const nobody = new KVService(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), channelOptions);
    const s = new CallStream(nobody, 'nobody');
    const message = await s.call(request(1), 20_000).then(() => 'resolved', (err: Error) => err.message);
    expect(message).toMatch(/^nobody: No connection established\. Last error: .*ECONNREFUSED/);
    expect(message).not.toMatch(/Resolution note/);
    s.close();
    nobody.close();
  });

  it('close() fails what is pending with a clear reason', async () => {
    behaviour = () => undefined;
    const s = new CallStream(client, 'test');
    const pending = s.call(request(1), 20_000).then(() => 'resolved', (err: Error) => err.message);
    s.close();
    expect(await pending).toBe('test: closed');
  });
});
