import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/raft/types.ts';
import { approxWireBytes, MAX_BATCH_BYTES, MAX_ENTRY_BYTES, splitBatch, wireEntrySize, wireMessageSize } from '../../src/transport/wire-size.ts';
import { messageToWire } from '../../src/transport/codec.ts';

const root = protobuf.loadSync(fileURLToPath(new URL('../../protos/raftkv.proto', import.meta.url)));
const AppendEntries = root.lookupType('raftkv.AppendEntries');
const RaftBatch = root.lookupType('raftkv.RaftBatch');

/** What protobufjs (under @grpc/proto-loader) makes of the entry inside an AppendEntries. */
function encodedSize(e: Entry): number {
  const base = { term: 3, prevLogIndex: 9, prevLogTerm: 2, leaderCommit: 4, readSeq: 1 };
  const wire = { index: e.index, term: e.term, kind: e.kind, data: e.data, traceId: e.traceId ?? '' };
  return AppendEntries.encode(AppendEntries.fromObject({ ...base, entries: [wire] })).finish().length - AppendEntries.encode(AppendEntries.fromObject({ ...base, entries: [] })).finish().length;
}

describe('wire sizes', () => {
  const cases: Entry[] = [
    { index: 1, term: 1, kind: 'noop', data: '' },
    { index: 300, term: 2, kind: 'command', data: '{"k":"v"}', traceId: 'client0:7' },
    // A KV command with NULs: its data is JSON, where each NUL became 6 bytes.
    { index: 2 ** 40, term: 2 ** 20, kind: 'command', data: JSON.stringify({ v: '\u0000'.repeat(65536) }) },
    { index: 5, term: 1, kind: 'command', data: 'é€😀'.repeat(50_000) },
  ];

  it.each(cases.map((e) => [e.data.length, e] as const))('wireEntrySize is the exact protobuf size (data of %i chars)', (_, e) => {
    expect(wireEntrySize(e)).toBe(encodedSize(e));
  });

  it('counts a NUL as JSON makes it, 6 bytes', () => {
    const data = JSON.stringify('\u0000'.repeat(65536));
    expect(data.length).toBe(65536 * 6 + 2);
    expect(wireEntrySize({ index: 1, term: 1, kind: 'command', data })).toBeGreaterThan(393_216);
  });

  it('wireMessageSize bounds the encoded RaftBatch element', () => {
    const entries = cases.slice(0, 3);
    const m = { type: 'AppendEntries' as const, from: 'server0', to: 'server1', term: 2 ** 20, prevLogIndex: 0, prevLogTerm: 0, entries, leaderCommit: 3, readSeq: 9, token: { server0: 12, server1: 4 } };
    const wire = messageToWire(m);
    const actual = RaftBatch.encode(RaftBatch.fromObject({ messages: [wire] })).finish().length;
    expect(wireMessageSize(wire, entries)).toBeGreaterThanOrEqual(actual);
    expect(wireMessageSize(wire, entries)).toBeLessThan(actual + 200);
  });

  it('leaves 1 MiB of a 64 MiB message for what surrounds the biggest entry', () => {
    expect(MAX_ENTRY_BYTES).toBe(63 * 1024 * 1024);
  });

  it('splitBatch keeps order, keeps small turns whole, and puts a big item alone', () => {
    const small = Array.from({ length: 100 }, (_, i) => ({ callId: i, op: { put: { key: `k${i}`, value: 'v' } } }));
    expect(splitBatch(small)).toEqual([small]);
    const big = (i: number) => ({ callId: i, value: 'é'.repeat(1024 * 1024) }); // 2 MiB of UTF-8
    const items = [big(0), big(1), big(2), { callId: 3, value: 'x'.repeat(MAX_BATCH_BYTES * 2) }, big(4)];
    const batches = splitBatch(items);
    expect(batches.flat()).toEqual(items);
    expect(batches.map((b) => b.map((i) => i.callId))).toEqual([[0], [1], [2], [3], [4]]);
    expect(batches.every((b) => b.length === 1 || b.reduce((n, i) => n + approxWireBytes(i), 0) <= MAX_BATCH_BYTES)).toBe(true);
  });
});
