import * as grpc from '@grpc/grpc-js';
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts } from '../../src/cluster/free-ports.ts';
import type { AppendEntries, InstallSnapshot, InstallSnapshotRes, Message } from '../../src/raft/types.ts';
import { messageToWire } from '../../src/transport/codec.ts';
import { PeerTransport, raftPeerHandlers, type PeerTransportOptions } from '../../src/transport/peer-transport.ts';
import { channelOptions, RaftPeerService, serverOptions } from '../../src/transport/proto.ts';
import { snapshotChunks, snapshotDeadlineMs } from '../../src/transport/snapshot-stream.ts';
import type { WireSnapshotChunk, WireSnapshotHeader } from '../../src/transport/wire.ts';
import { SNAPSHOT_CHUNK_BYTES, wireMessageSize } from '../../src/transport/wire-size.ts';

/**
 * The InstallSnapshot transport over real gRPC on loopback: a PeerTransport ("a") sending
 * to a grpc.Server running raftPeerHandlers ("b"), or to a scripted server, or to nothing.
 */

const MiB = 1024 * 1024;
const members = ['a', 'b', 'c'];

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** Deterministic bytes (xorshift32), so a failure reproduces. */
function payload(bytes: number, seed = 0x9e3779b9): Uint8Array {
  const words = new Uint32Array(Math.ceil(bytes / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, bytes);
}

const snapshotMsg = (data: Uint8Array, over: Partial<InstallSnapshot> = {}): InstallSnapshot => ({
  type: 'InstallSnapshot',
  from: 'a',
  to: 'b',
  term: 7,
  snapshot: { index: 1234, term: 6, data },
  token: { a: 42, b: 3 },
  ...over,
});

const heartbeat = (readSeq: number): AppendEntries => ({
  type: 'AppendEntries', from: 'a', to: 'b', term: 7, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, readSeq, logTime: Date.now(),
});

async function listen(server: grpc.Server): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  cleanups.push(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

interface Arrival {
  m: Message;
  at: number;
}

/** Server "b" with the real handlers; what its node receives lands in `arrivals`. */
async function receiver() {
  const arrivals: Arrival[] = [];
  const transport = new PeerTransport('b', []);
  cleanups.push(() => transport.close());
  const server = new grpc.Server(serverOptions);
  server.addService(RaftPeerService.service, raftPeerHandlers('b', members, transport, (ms) => ms.forEach((m) => arrivals.push({ m, at: performance.now() }))));
  const addr = await listen(server);
  return { addr, arrivals, transport };
}

/** Sender "a", whose reports land in `reports`. */
function sender(addr: string, opts: PeerTransportOptions = {}) {
  const reports: { peer: string; ok: boolean; at: number }[] = [];
  const transport = new PeerTransport('a', [{ id: 'b', addr }], undefined, { ...opts, onSnapshotReport: (peer, ok) => reports.push({ peer, ok, at: performance.now() }) });
  cleanups.push(() => transport.close());
  return { transport, reports };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server whose InstallSnapshot reads everything and never answers (a stuck receiver). */
async function stuckServer() {
  let calls = 0;
  let chunks = 0;
  const server = new grpc.Server(serverOptions);
  server.addService(RaftPeerService.service, {
    Stream: (call: grpc.ServerReadableStream<unknown, unknown>) => call.on('data', () => undefined).on('error', () => undefined),
    Deliver: (_: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {}),
    InstallSnapshot: (call: grpc.ServerReadableStream<unknown, unknown>) => {
      calls++;
      call.on('data', () => chunks++).on('error', () => undefined);
    },
  });
  const addr = await listen(server);
  return { addr, calls: () => calls, chunks: () => chunks };
}

describe('InstallSnapshot over gRPC', () => {
  it('delivers a 5 MB snapshot whole, once, header and token intact, and reports ok once', async () => {
    const b = await receiver();
    const a = sender(b.addr);
    const data = payload(5_000_000);
    const sent = snapshotMsg(data);
    const t0 = performance.now();
    a.transport.send([sent]);
    await waitFor('the report', () => a.reports.length > 0);
    await waitFor('the snapshot', () => b.arrivals.length > 0);
    const took = performance.now() - t0;
    await sleep(200);
    expect(a.reports.map(({ peer, ok }) => ({ peer, ok }))).toEqual([{ peer: 'b', ok: true }]);
    expect(b.arrivals).toHaveLength(1);
    const got = b.arrivals[0].m as InstallSnapshot;
    expect(got).toMatchObject({ type: 'InstallSnapshot', from: 'a', to: 'b', term: 7, snapshot: { index: 1234, term: 6 }, token: { a: 42, b: 3 } });
    expect(got.snapshot.data.byteLength).toBe(5_000_000);
    expect(Buffer.compare(Buffer.from(got.snapshot.data.buffer, got.snapshot.data.byteOffset, got.snapshot.data.byteLength), Buffer.from(data))).toBe(0);
    console.log(`5 MB snapshot delivered and reported in ${took.toFixed(0)} ms`);
  });

  it('delivers an empty snapshot (one chunk, no data)', async () => {
    const b = await receiver();
    const a = sender(b.addr);
    a.transport.send([snapshotMsg(new Uint8Array(0), { token: undefined })]);
    await waitFor('the report', () => a.reports.length > 0);
    expect(a.reports[0].ok).toBe(true);
    expect(b.arrivals).toHaveLength(1);
    const got = b.arrivals[0].m as InstallSnapshot;
    expect(got.snapshot.data.byteLength).toBe(0);
    expect(got.token).toBeUndefined();
  });

  it('heartbeats on the peer stream are not blocked behind a 50 MB snapshot', async () => {
    const b = await receiver();
    const a = sender(b.addr);
    // Open the peer stream first, so what is measured is the snapshot's effect on it.
    a.transport.send([heartbeat(0)]);
    await waitFor('the first heartbeat', () => b.arrivals.length === 1);
    const data = payload(50_000_000);
    const t0 = performance.now();
    let seq = 1;
    const sentAt = new Map<number, number>();
    const beat = () => {
      sentAt.set(seq, performance.now());
      a.transport.send([heartbeat(seq++)]);
    };
    a.transport.send([snapshotMsg(data)]);
    beat();
    const timer = setInterval(beat, 20);
    try {
      await waitFor('the snapshot', () => b.arrivals.some((x) => x.m.type === 'InstallSnapshot'), 60_000);
    } finally {
      clearInterval(timer);
    }
    const snapAt = b.arrivals.find((x) => x.m.type === 'InstallSnapshot')!.at;
    const during = b.arrivals.filter((x) => x.m.type === 'AppendEntries' && (x.m as AppendEntries).readSeq >= 1 && x.at < snapAt);
    const latencies = during.map((x) => x.at - sentAt.get((x.m as AppendEntries).readSeq)!);
    console.log(
      `50 MB snapshot arrived after ${(snapAt - t0).toFixed(0)} ms; ${during.length} heartbeats arrived meanwhile, ` +
        `latency median ${median(latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
    );
    // The heartbeat sent right after the snapshot got there first, and promptly.
    expect(during.map((x) => (x.m as AppendEntries).readSeq)).toContain(1);
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...latencies)).toBeLessThan(Math.max(1000, (snapAt - t0) / 2));
    await waitFor('the report', () => a.reports.length > 0);
    expect(a.reports.map((r) => r.ok)).toEqual([true]);
    const got = b.arrivals.filter((x) => x.m.type === 'InstallSnapshot');
    expect(got).toHaveLength(1);
    const d = (got[0].m as InstallSnapshot).snapshot.data;
    expect(Buffer.compare(Buffer.from(d.buffer, d.byteOffset, d.byteLength), Buffer.from(data))).toBe(0);
  });

  it('a receiver that stops reading for a while: the sender waits (backpressure), then the snapshot arrives whole', async () => {
    const arrivals: Message[] = [];
    const transport = new PeerTransport('b', []);
    cleanups.push(() => transport.close());
    const real = raftPeerHandlers('b', members, transport, (ms) => arrivals.push(...ms));
    let resumedAt = 0;
    const server = new grpc.Server(serverOptions);
    server.addService(RaftPeerService.service, {
      ...real,
      InstallSnapshot(call: grpc.ServerReadableStream<WireSnapshotChunk, object>, cb: grpc.sendUnaryData<object>) {
        // Paused explicitly, the stream stays paused when the real handler listens for 'data'.
        call.pause();
        setTimeout(() => {
          resumedAt = performance.now();
          call.resume();
        }, 1000);
        (real.InstallSnapshot as (c: typeof call, cb: grpc.sendUnaryData<object>) => void)(call, cb);
      },
    });
    const a = sender(await listen(server));
    const data = payload(30 * MiB);
    a.transport.send([snapshotMsg(data)]);
    await waitFor('the report', () => a.reports.length > 0);
    expect(a.reports.map((r) => r.ok)).toEqual([true]);
    expect(a.reports[0].at).toBeGreaterThan(resumedAt);
    expect(resumedAt).toBeGreaterThan(0);
    expect(arrivals).toHaveLength(1);
    const d = (arrivals[0] as InstallSnapshot).snapshot.data;
    expect(Buffer.compare(Buffer.from(d.buffer, d.byteOffset, d.byteLength), Buffer.from(data))).toBe(0);
  });

  it('a dead peer: reported failed once, well within the deadline; a second snapshot meanwhile fails at once', async () => {
    const [port] = await freePorts(1);
    const a = sender(`127.0.0.1:${port}`);
    const data = payload(2 * MiB);
    const t0 = performance.now();
    a.transport.send([snapshotMsg(data), snapshotMsg(data, { snapshot: { index: 1300, term: 7, data } })]);
    await Promise.resolve();
    await Promise.resolve();
    // The second was dropped (one transfer per peer) and reported before the first ended.
    expect(a.reports.map((r) => r.ok)).toEqual([false]);
    await waitFor('the first report', () => a.reports.length === 2, snapshotDeadlineMs(data.byteLength) + 5000);
    const took = a.reports[1].at - t0;
    await sleep(300);
    expect(a.reports.map(({ peer, ok }) => ({ peer, ok }))).toEqual([
      { peer: 'b', ok: false },
      { peer: 'b', ok: false },
    ]);
    expect(took).toBeLessThan(snapshotDeadlineMs(data.byteLength));
    console.log(`dead peer: the transfer reported failed after ${took.toFixed(0)} ms (deadline ${snapshotDeadlineMs(data.byteLength)} ms)`);
    // The link is free again: the next one is tried (and fails the same way).
    a.transport.send([snapshotMsg(data)]);
    await waitFor('the third report', () => a.reports.length === 3);
    expect(a.reports[2].ok).toBe(false);
  });

  it('a stuck receiver: the transfer fails at its deadline, once; snapshots sent meanwhile fail at once', async () => {
    const stuck = await stuckServer();
    const deadlineMs = 1500;
    const a = sender(stuck.addr, { snapshotDeadlineMs: () => deadlineMs });
    const data = payload(3 * MiB);
    const t0 = performance.now();
    a.transport.send([snapshotMsg(data)]);
    await waitFor('the chunks', () => stuck.chunks() === 3);
    expect(a.reports).toHaveLength(0);
    const t1 = performance.now();
    a.transport.send([snapshotMsg(data)]);
    await waitFor('the dropped one', () => a.reports.length === 1);
    expect(a.reports[0].ok).toBe(false);
    expect(a.reports[0].at - t1).toBeLessThan(100);
    await waitFor('the deadline', () => a.reports.length === 2, 15_000);
    const took = a.reports[1].at - t0;
    expect(a.reports[1].ok).toBe(false);
    expect(took).toBeGreaterThanOrEqual(deadlineMs - 50);
    expect(took).toBeLessThan(deadlineMs + 5000);
    await sleep(300);
    expect(a.reports).toHaveLength(2);
    expect(stuck.calls()).toBe(1);
    console.log(`stuck receiver: reported failed after ${took.toFixed(0)} ms (deadline ${deadlineMs} ms)`);
  });

  it('blocking the link or closing the transport cancels a transfer, reported failed once', async () => {
    const stuck = await stuckServer();
    const a = sender(stuck.addr);
    const data = payload(MiB);
    a.transport.send([snapshotMsg(data)]);
    await waitFor('the chunk', () => stuck.chunks() === 1);
    a.transport.setBlocked(['b']);
    await waitFor('the report', () => a.reports.length === 1);
    expect(a.reports[0].ok).toBe(false);
    // Blocked: not even tried.
    a.transport.send([snapshotMsg(data)]);
    await waitFor('the second report', () => a.reports.length === 2);
    expect(a.reports[1].ok).toBe(false);
    expect(stuck.calls()).toBe(1);
    a.transport.setBlocked([]);
    a.transport.send([snapshotMsg(data)]);
    await waitFor('the second call', () => stuck.calls() === 2 && stuck.chunks() === 2);
    a.transport.close();
    await waitFor('the third report', () => a.reports.length === 3);
    expect(a.reports[2].ok).toBe(false);
    // After close, a snapshot is reported failed too.
    a.transport.send([snapshotMsg(data)]);
    await waitFor('the fourth report', () => a.reports.length === 4);
    await sleep(200);
    expect(a.reports.map((r) => r.ok)).toEqual([false, false, false, false]);
  });

  it('InstallSnapshotRes round-trips on the peer stream, token and all', async () => {
    const b = await receiver();
    const a = sender(b.addr);
    const res: InstallSnapshotRes = { type: 'InstallSnapshotRes', from: 'a', to: 'b', term: 9, snapshotIndex: 1234, success: true, matchIndex: 1240, incarnation: 3, token: { a: 5 } };
    const stale: InstallSnapshotRes = { type: 'InstallSnapshotRes', from: 'a', to: 'b', term: 11, snapshotIndex: 1234, success: false, matchIndex: 0 };
    a.transport.send([res, heartbeat(1), stale]);
    await waitFor('three messages', () => b.arrivals.length === 3);
    expect(b.arrivals.map((x) => x.m)).toEqual([res, expect.objectContaining({ type: 'AppendEntries', readSeq: 1 }), stale]);
    expect(a.reports).toHaveLength(0);
  });
});

describe('the receiver refuses inconsistent snapshot streams and delivers nothing', () => {
  const header = (over: Partial<WireSnapshotHeader> = {}): WireSnapshotHeader => ({
    from: 'a', to: 'b', token: '', term: 7, snapshotIndex: 10, snapshotTerm: 6, totalBytes: 30, ...over,
  });
  const chunk = (offset: number, len: number, h: WireSnapshotHeader | null = header()): WireSnapshotChunk => ({ header: h, offset, data: Buffer.alloc(len, offset % 251) });

  /** One InstallSnapshot call with these chunks, raw; resolves with its error, or null on OK. */
  async function call(addr: string, chunks: WireSnapshotChunk[], cancel = false): Promise<grpc.ServiceError | null> {
    const client = new RaftPeerService(addr, grpc.credentials.createInsecure(), channelOptions);
    cleanups.push(() => client.close());
    return new Promise((resolve) => {
      const method = (client as unknown as Record<string, Function>).InstallSnapshot;
      const stream = method.call(client, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null) => resolve(err)) as grpc.ClientWritableStream<WireSnapshotChunk>;
      stream.on('error', () => undefined);
      for (const c of chunks) stream.write(c);
      if (cancel) setTimeout(() => stream.cancel(), 200);
      else stream.end();
    });
  }

  const cases: [string, WireSnapshotChunk[], RegExp][] = [
    ['an offset gap', [chunk(0, 10), chunk(20, 10)], /offset 20, expected 10/],
    ['an offset going back', [chunk(0, 10), chunk(5, 10)], /offset 5, expected 10/],
    ['a first chunk not at 0', [chunk(10, 10)], /offset 10, expected 0/],
    ['a changed term', [chunk(0, 10), chunk(10, 20, header({ term: 8 }))], /changed the header/],
    ['a changed snapshot index', [chunk(0, 10), chunk(10, 20, header({ snapshotIndex: 11 }))], /changed the header/],
    ['a changed token', [chunk(0, 10), chunk(10, 20, header({ token: '{"a":1}' }))], /changed the header/],
    ['a changed size', [chunk(0, 10), chunk(10, 20, header({ totalBytes: 31 }))], /changed the header/],
    ['a chunk without a header', [chunk(0, 10), chunk(10, 20, null)], /has no header/],
    ['an unknown sender', [chunk(0, 30, header({ from: 'evil' }))], /sender "evil" is not a peer of b/],
    ['the receiver as sender', [chunk(0, 30, header({ from: 'b' }))], /sender "b" is not a peer of b/],
    ['a snapshot for another server', [chunk(0, 30, header({ to: 'c' }))], /snapshot for "c" reached b/],
    ['more data than totalBytes', [chunk(0, 20), chunk(20, 20)], /runs past totalBytes 30/],
    ['over 1 GiB', [chunk(0, 10, header({ totalBytes: 2 * 1024 * MiB }))], /over the limit/],
    ['a snapshot at index 0', [chunk(0, 30, header({ snapshotIndex: 0 }))], /must cover an entry/],
    ['a snapshot term above the term', [chunk(0, 30, header({ snapshotTerm: 8 }))], /above the leader's term/],
    ['a stream ending early', [chunk(0, 10), chunk(10, 10)], /ended after 20 of 30 bytes/],
    ['a stream with no chunk', [], /ended without a chunk/],
  ];

  it.each(cases)('%s: INVALID_ARGUMENT', async (_what, chunks, details) => {
    const b = await receiver();
    const err = await call(b.addr, chunks);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err!.details).toMatch(details);
    await sleep(50);
    expect(b.arrivals).toHaveLength(0);
  });

  it('a cancelled stream delivers nothing; a blocked link is refused UNAVAILABLE; a good one is delivered', async () => {
    const b = await receiver();
    const cancelled = await call(b.addr, [chunk(0, 10), chunk(10, 10)], true);
    expect(cancelled?.code).toBe(grpc.status.CANCELLED);
    b.transport.setBlocked(['a']);
    const blocked = await call(b.addr, [chunk(0, 10), chunk(10, 10), chunk(20, 10)]);
    expect(blocked?.code).toBe(grpc.status.UNAVAILABLE);
    expect(blocked!.details).toMatch(/blocked/);
    await sleep(100);
    expect(b.arrivals).toHaveLength(0);
    b.transport.setBlocked([]);
    expect(await call(b.addr, [chunk(0, 10), chunk(10, 10), chunk(20, 10)])).toBeNull();
    expect(b.arrivals).toHaveLength(1);
    expect((b.arrivals[0].m as InstallSnapshot).snapshot).toMatchObject({ index: 10, term: 6 });
    expect(Array.from((b.arrivals[0].m as InstallSnapshot).snapshot.data.subarray(8, 12))).toEqual([0, 0, 10, 10]);
  });

  it('an InstallSnapshotRes claiming success below the snapshot is refused', async () => {
    const b = await receiver();
    const client = new RaftPeerService(b.addr, grpc.credentials.createInsecure(), channelOptions);
    cleanups.push(() => client.close());
    const bad = { from: 'a', to: 'b', token: '', installSnapshotRes: { term: 3, snapshotIndex: 10, success: true, matchIndex: 9, incarnation: 0 } };
    const err = await new Promise<grpc.ServiceError | null>((resolve) => (client as unknown as Record<string, Function>).Deliver.call(client, { messages: [bad] }, (e: grpc.ServiceError | null) => resolve(e)));
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err!.details).toMatch(/matchIndex 9 below snapshotIndex 10/);
    expect(b.arrivals).toHaveLength(0);
  });
});

describe('snapshot chunks and sizes', () => {
  it('cuts data into views of at most 1 MiB, in order, every chunk with the header', () => {
    const data = payload(5 * MiB + 1);
    const chunks = [...snapshotChunks(snapshotMsg(data))];
    expect(chunks.map((c) => c.data.byteLength)).toEqual([MiB, MiB, MiB, MiB, MiB, 1]);
    expect(chunks.map((c) => c.offset)).toEqual([0, 1, 2, 3, 4, 5].map((k) => k * MiB));
    expect(chunks.every((c) => c.data.buffer === data.buffer)).toBe(true);
    expect(chunks[5].header).toEqual({ from: 'a', to: 'b', token: '{"a":42,"b":3}', term: 7, snapshotIndex: 1234, snapshotTerm: 6, totalBytes: 5 * MiB + 1 });
    expect(SNAPSHOT_CHUNK_BYTES).toBe(MiB);
  });

  it('the deadline is 10 s plus 1 s per MiB', () => {
    expect(snapshotDeadlineMs(0)).toBe(10_000);
    expect(snapshotDeadlineMs(50 * MiB)).toBe(60_000);
  });

  it('wireMessageSize bounds an encoded InstallSnapshotRes, and a SnapshotChunk is its data plus a small header', () => {
    const root = protobuf.loadSync(fileURLToPath(new URL('../../protos/raftkv.proto', import.meta.url)));
    const RaftBatch = root.lookupType('raftkv.RaftBatch');
    const SnapshotChunk = root.lookupType('raftkv.SnapshotChunk');
    const big = 2 ** 53 - 1;
    const res: InstallSnapshotRes = { type: 'InstallSnapshotRes', from: 'server0', to: 'server1', term: big, snapshotIndex: big, success: true, matchIndex: big, incarnation: big, token: { server0: 12 } };
    const wire = messageToWire(res);
    const encoded = RaftBatch.encode(RaftBatch.fromObject({ messages: [wire] })).finish().length;
    expect(encoded).toBeLessThanOrEqual(wireMessageSize(wire, []));
    const [c] = snapshotChunks(snapshotMsg(payload(MiB)));
    expect(SnapshotChunk.encode(SnapshotChunk.fromObject(c)).finish().length).toBeLessThan(MiB + 200);
  });
});

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}
