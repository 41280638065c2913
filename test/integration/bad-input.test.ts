import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientError, type KvClient } from '../../src/client/kv-client.ts';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../src/kv/command.ts';
import { channelOptions, KVService, RaftPeerService } from '../../src/transport/proto.ts';
import { unary } from '../../src/transport/unary.ts';
import type { WireClientReply, WireClientRequest, WireRaftMessage } from '../../src/transport/wire.ts';
import { startTestCluster, type TestCluster } from './helpers.ts';

/**
 * Requests no well-behaved client or peer sends, against real server processes: each is
 * refused with a reason, and the cluster keeps serving afterwards.
 */
let tc: TestCluster;
let client: KvClient;
const raw: grpc.Client[] = [];

beforeAll(async () => {
  tc = await startTestCluster(3);
  await tc.cluster.waitForLeader();
  client = await tc.client({ serverId: 'server1' });
});

afterAll(async () => {
  for (const c of raw) c.close();
  await tc?.teardown();
});

function rawKv(serverId: string): grpc.Client {
  const c = new KVService(addrOf(serverId), grpc.credentials.createInsecure(), channelOptions);
  raw.push(c);
  return c;
}

function rawPeer(serverId: string): grpc.Client {
  const c = new RaftPeerService(addrOf(serverId), grpc.credentials.createInsecure(), channelOptions);
  raw.push(c);
  return c;
}

function addrOf(serverId: string): string {
  return tc.config.servers.find((s) => s.id === serverId)!.addr;
}

/** The rejection a promise settles with, checked to be a ClientError. */
async function clientError(p: Promise<unknown>): Promise<ClientError> {
  const err = await p.then(
    (v) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  return err as ClientError;
}

const wellFormed = (): WireClientRequest => ({
  clientId: 'raw-client',
  opId: 1,
  firstUnacked: 1,
  op: { put: { key: 'raw', value: 'x' } },
  callId: 0,
  timeoutMs: 0,
  traceId: '',
  token: '',
  forwarded: false,
});

describe('bad input to a real 3-server cluster', () => {
  it('an oversized key is refused with the limit, and the cluster still serves', async () => {
    const key = 'k'.repeat(MAX_KEY_BYTES + 1);
    const err = await clientError(client.put(key, 'v'));
    expect(err.message).toContain(`key is ${MAX_KEY_BYTES + 1} bytes; the limit is ${MAX_KEY_BYTES}`);
    expect(err.outcome.failed).toBeFalsy(); // refused before it reached the log
    // Multi-byte characters count in bytes, not UTF-16 units.
    const wide = 'é'.repeat(MAX_KEY_BYTES / 2 + 1);
    expect((await clientError(client.get(wide))).message).toContain(`the limit is ${MAX_KEY_BYTES}`);
    // Exactly at the limit is fine.
    const edge = 'e'.repeat(MAX_KEY_BYTES);
    expect((await client.put(edge, 'at-limit')).value).toBe('at-limit');
    expect((await client.get(edge)).value).toBe('at-limit');
    expect((await client.put('after-big-key', 'ok')).value).toBe('ok');
    expect((await client.get('after-big-key')).value).toBe('ok');
  });

  it('an oversized value is refused with the limit, and nothing is written', async () => {
    const err = await clientError(client.put('big', 'v'.repeat(MAX_VALUE_BYTES + 1)));
    expect(err.message).toContain(`value is ${MAX_VALUE_BYTES + 1} bytes; the limit is ${MAX_VALUE_BYTES}`);
    const inBatch = await clientError(client.mput([{ key: 'a', value: '1' }, { key: 'big', value: 'v'.repeat(MAX_VALUE_BYTES + 1) }]));
    expect(inBatch.message).toContain('mput pairs[1]');
    expect(inBatch.message).toContain(`the limit is ${MAX_VALUE_BYTES}`);
    expect((await client.mget(['big', 'a'])).values).toEqual(['', '']);
    expect((await client.put('after-big-value', 'ok')).value).toBe('ok');
    expect((await client.get('after-big-value')).value).toBe('ok');
  });

  it('incr on a text value fails as an applied operation and leaves the value alone', async () => {
    await client.put('text', 'hello');
    const err = await clientError(client.incr('text'));
    expect(err.outcome.failed).toBe(true);
    expect(err.message).toMatch(/incr: the value of "text" is not a base-10 integer/);
    expect((await client.get('text')).value).toBe('hello');
    // A counter next to it is unaffected.
    expect((await client.incr('counter')).value).toBe('1');
  });

  it('expire with a non-positive or non-finite ttl is refused with a clear error', async () => {
    await client.put('ttl-key', 'v');
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const err = await clientError(client.expire('ttl-key', ttl));
      expect(err.message).toMatch(/ttlSeconds must be a positive finite number of seconds/);
      expect(err.message).toContain(`got ${String(ttl)}`);
    }
    expect((await client.get('ttl-key')).value).toBe('v');
  });

  it('raw KV requests that break the protocol get INVALID with a reason', async () => {
    const kv = rawKv('server2');
    const send = (req: Partial<WireClientRequest>) => unary<Partial<WireClientRequest>, WireClientReply>(kv, 'Execute', req, 5000);
    const cases: [string, Partial<WireClientRequest>, RegExp][] = [
      ['no op', { ...wellFormed(), op: null }, /request has no operation/],
      ['an empty op', { ...wellFormed(), op: {} }, /request has no operation/],
      ['opId 0', { ...wellFormed(), opId: 0, firstUnacked: 0 }, /opId must be a positive integer \(got 0\)/],
      ['an empty clientId', { ...wellFormed(), clientId: '' }, /clientId is required/],
      ['firstUnacked above opId', { ...wellFormed(), opId: 3, firstUnacked: 4 }, /firstUnacked \(4\) cannot exceed opId \(3\)/],
      ['an op id past 2^53', { ...wellFormed(), opId: 2 ** 60, firstUnacked: 1 }, /opId must be a positive integer/],
      ['an empty key', { ...wellFormed(), op: { get: '' } }, /key must be a non-empty string/],
      ['an empty mget', { ...wellFormed(), op: { mget: { keys: [] } } }, /mget needs at least one key/],
    ];
    for (const [what, req, message] of cases) {
      const reply = await send(req);
      expect({ what, ok: reply.ok, code: reply.code }).toEqual({ what, ok: false, code: 'INVALID' });
      expect(reply.error, what).toMatch(message);
    }
    // The same request, well formed, is served.
    const good = await send(wellFormed());
    expect(good).toMatchObject({ ok: true, value: 'x', code: '' });
    expect((await client.get('raw')).value).toBe('x');
  });

  it('a broken request on a Session stream gets INVALID under its callId, the stream serves on, and a half-close still gets every reply', async () => {
    const kv = rawKv('server2');
    const session = (kv as unknown as Record<string, () => grpc.ClientDuplexStream<{ requests: Partial<WireClientRequest>[] }, { replies: WireClientReply[] }>>).Session.call(kv);
    const replies = new Map<number, WireClientReply>();
    const got = (n: number) =>
      new Promise<void>((resolve, reject) => {
        const check = () => replies.size >= n && resolve();
        session.on('data', ({ replies: batch }: { replies: WireClientReply[] }) => {
          for (const r of batch) replies.set(r.callId, r);
          check();
        });
        session.on('error', reject);
      });
    const all = got(3);
    const ended = new Promise<void>((resolve) => session.on('end', () => resolve()));
    session.write({ requests: [{ ...wellFormed(), callId: 11, op: null, timeoutMs: 5000 }, { ...wellFormed(), callId: 12, opId: 0, firstUnacked: 0, timeoutMs: 5000 }] });
    session.write({ requests: [{ ...wellFormed(), callId: 13, opId: 7, firstUnacked: 7, op: { put: { key: 'session-raw', value: 'y' } }, timeoutMs: 5000 }] });
    // Half-closed before the put has committed: the server still answers it, then ends.
    session.end();
    await all;
    await ended;
    expect(replies.get(11)).toMatchObject({ ok: false, code: 'INVALID', error: expect.stringMatching(/request has no operation/) });
    expect(replies.get(12)).toMatchObject({ ok: false, code: 'INVALID', error: expect.stringMatching(/opId must be a positive integer/) });
    expect(replies.get(13)).toMatchObject({ ok: true, code: '' });
    expect((await client.get('session-raw')).value).toBe('y');
  });

  it('malformed Raft messages are refused with INVALID_ARGUMENT', async () => {
    const leader = await tc.cluster.waitForLeader();
    const follower = tc.config.servers.find((s) => s.id !== leader)!.id;
    const base = { from: leader, to: follower, token: '' };
    const appendEntries = { term: 0, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, readSeq: 0 };
    const bogusEntry = { index: 1, term: 0, kind: 'bogus', data: '', traceId: '' };
    const cases: [string, Partial<WireRaftMessage>[], RegExp][] = [
      ['a message with no body', [base], /malformed Raft message: message with no body/],
      ['a message without from/to', [{ token: '', appendEntries }], /message without from\/to/],
      ['an entry of kind "bogus"', [{ ...base, appendEntries: { ...appendEntries, entries: [bogusEntry] } }], /unknown kind "bogus"/],
    ];
    for (const id of tc.cluster.ids) {
      const peer = rawPeer(id);
      for (const [what, messages, details] of cases) {
        const err = await unary(peer, 'Deliver', { messages: messages.map((m) => ({ ...m, to: m.to === undefined ? undefined : id })) }, 5000).then(
          () => null,
          (e: grpc.ServiceError) => e,
        );
        expect(err, `${what} to ${id}`).not.toBeNull();
        expect(err!.code, `${what} to ${id}`).toBe(grpc.status.INVALID_ARGUMENT);
        expect(err!.details, `${what} to ${id}`).toMatch(details);
      }
      // An empty batch is harmless, and is accepted.
      await expect(unary(peer, 'Deliver', { messages: [] }, 5000)).resolves.toEqual({});
    }
  });

  it('AppendEntries whose entries do not follow prevLogIndex, or from a non-member, is refused with INVALID_ARGUMENT', async () => {
    const leader = await tc.cluster.waitForLeader();
    const follower = tc.config.servers.find((s) => s.id !== leader)!.id;
    const entry = (index: number, term: number) => ({ index, term, kind: 'noop', data: '', traceId: '' });
    const ae = (entries: ReturnType<typeof entry>[]) => ({ term: 99, prevLogIndex: 0, prevLogTerm: 0, entries, leaderCommit: 0, readSeq: 0 });
    const cases: [string, Partial<WireRaftMessage>, RegExp][] = [
      ['entry 7 after prevLogIndex 0', { from: leader, appendEntries: ae([entry(7, 1)]) }, /does not follow prevLogIndex/],
      ['a term from the future', { from: leader, appendEntries: ae([entry(1, 100)]) }, /out of order/],
      ['a vote from a stranger', { from: 'evil', requestVoteRes: { term: 99, voteGranted: true, preVote: false } }, /not a peer/],
    ];
    const peer = rawPeer(follower);
    for (const [what, m, details] of cases) {
      const err = await unary(peer, 'Deliver', { messages: [{ to: follower, token: '', ...m }] }, 5000).then(
        () => null,
        (e: grpc.ServiceError) => e,
      );
      expect(err?.code, what).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err!.details, what).toMatch(details);
    }
    // The follower was not disturbed: same leader, and it still serves.
    expect((await tc.cluster.status(follower)).leaderId).toBe(leader);
  });

  it('a key expires after its ttl', async () => {
    await client.put('session', 'token-1');
    const sent = Date.now();
    expect((await client.expire('session', 1)).value).toBe('1');
    expect((await client.get('session')).value).toBe('token-1');
    // A key that does not exist cannot be given a ttl.
    expect((await client.expire('no-such-key', 1)).value).toBe('0');
    let gone = NaN;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((await client.get('session')).value === '') {
        gone = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(gone, 'the key never disappeared').not.toBeNaN();
    // The deadline is the leader's clock at proposal (after `sent`) plus 1 s.
    expect(gone - sent).toBeGreaterThanOrEqual(1000);
    // Every server agrees it is gone, and a new put brings it back without a ttl.
    const other = await tc.client({ serverId: 'server0' });
    expect((await other.get('session')).value).toBe('');
    await other.put('session', 'token-2');
    expect((await client.get('session')).value).toBe('token-2');
  });

  it('after all of that every server answers Status and a put/get works', async () => {
    const leader = await tc.cluster.waitForLeader();
    const statuses = await Promise.all(tc.cluster.ids.map((id) => tc.cluster.status(id, 2000)));
    for (const s of statuses) {
      expect(s.leaderId).toBe(leader);
      expect(s.pid).toBe(tc.cluster.pid(s.serverId));
    }
    for (const id of tc.cluster.ids) expect(tc.cluster.state(id)).toBe('up');
    for (const id of tc.cluster.ids) {
      const c = await tc.client({ serverId: id });
      expect((await c.put(`final-${id}`, id)).value).toBe(id);
    }
    expect((await client.mget(tc.cluster.ids.map((id) => `final-${id}`))).values).toEqual(tc.cluster.ids);
  });
});
