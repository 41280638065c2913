import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeConfEntry } from '../../src/raft/conf-change.ts';
import type { Entry, InstallSnapshot, Message } from '../../src/raft/types.ts';
import { checkSnapshotHeader, installSnapshotFromWire, messageFromWire, messageToWire, sameSnapshotHeader, snapshotHeaderToWire } from '../../src/transport/codec.ts';
import type { WireRaftMessage, WireSnapshotHeader } from '../../src/transport/wire.ts';

/** Membership changes and leadership transfer on the wire: TimeoutNow, RequestVote.transfer, config entries, the snapshot's conf. */

const root = protobuf.loadSync(fileURLToPath(new URL('../../protos/raftkv.proto', import.meta.url)));
const RaftMessage = root.lookupType('raftkv.RaftMessage');
const SnapshotHeader = root.lookupType('raftkv.SnapshotHeader');
// What @grpc/proto-loader gives the receiver (src/transport/proto.ts's options).
const asReceived = { longs: Number, defaults: true, oneofs: true, enums: String };

function roundTrip(m: Message): Message {
  const bytes = RaftMessage.encode(RaftMessage.fromObject(messageToWire(m))).finish();
  return messageFromWire(RaftMessage.toObject(RaftMessage.decode(bytes), asReceived) as WireRaftMessage);
}

const config: Entry = {
  index: 5,
  term: 2,
  kind: 'config',
  data: encodeConfEntry({ change: { changes: [{ type: 'addNode', nodeId: 'd' }] }, conf: { voters: ['a', 'b', 'c', 'd'], learners: [], votersOutgoing: ['a', 'b', 'c'] } }),
};

describe('the codec and membership changes', () => {
  it('TimeoutNow goes both ways (RaftMessage field 15)', () => {
    const m: Message = { type: 'TimeoutNow', from: 'a', to: 'b', term: 7, token: { a: 3 } };
    expect(roundTrip(m)).toEqual(m);
    expect(messageToWire(m).timeoutNow).toEqual({ term: 7 });
    expect(RaftMessage.fields.timeoutNow.id).toBe(15);
  });

  it('RequestVote carries the transfer flag, and leaves it out when unset', () => {
    const vote: Message = { type: 'RequestVote', from: 'b', to: 'c', term: 2, lastLogIndex: 9, lastLogTerm: 1, preVote: false, transfer: true };
    expect(roundTrip(vote)).toEqual(vote);
    const plain: Message = { type: 'RequestVote', from: 'b', to: 'c', term: 2, lastLogIndex: 9, lastLogTerm: 1, preVote: true };
    expect(roundTrip(plain)).toEqual(plain);
  });

  it('a config entry travels in an AppendEntries; a malformed one is refused', () => {
    const m: Message = { type: 'AppendEntries', from: 'a', to: 'b', term: 2, prevLogIndex: 4, prevLogTerm: 2, entries: [config], leaderCommit: 4, readSeq: 0 };
    expect(roundTrip(m)).toEqual(m);
    const bad = messageToWire({ ...m, entries: [{ ...config, data: '{"change":{"changes":[]}}' }] });
    expect(() => messageFromWire(bad)).toThrow(/entry 5: ConfState/);
    const unknown = messageToWire({ ...m, entries: [{ ...config, kind: 'membership' as Entry['kind'] }] });
    expect(() => messageFromWire(unknown)).toThrow(/unknown kind "membership"/);
  });

  it('the snapshot header carries the configuration; one without (an old sender) is still taken', () => {
    const conf = { voters: ['a', 'b', 'c'], learners: ['d'], votersOutgoing: [] };
    const m: InstallSnapshot = { type: 'InstallSnapshot', from: 'a', to: 'd', term: 3, snapshot: { index: 40, term: 2, data: new Uint8Array([1, 2, 3]), conf } };
    const header = snapshotHeaderToWire(m);
    const received = SnapshotHeader.toObject(SnapshotHeader.decode(SnapshotHeader.encode(SnapshotHeader.fromObject(header)).finish()), asReceived) as WireSnapshotHeader;
    expect(received.conf).toEqual(conf);
    expect(sameSnapshotHeader(header, received)).toBe(true);
    expect(installSnapshotFromWire(received, m.snapshot.data).snapshot).toEqual(m.snapshot);
    const old = SnapshotHeader.toObject(SnapshotHeader.decode(SnapshotHeader.encode(SnapshotHeader.fromObject({ ...header, conf: undefined })).finish()), asReceived) as WireSnapshotHeader;
    expect(old.conf).toBeNull();
    expect(sameSnapshotHeader(header, old)).toBe(false);
    expect(installSnapshotFromWire(old, m.snapshot.data).snapshot).toEqual({ index: 40, term: 2, data: m.snapshot.data });
    expect(() => checkSnapshotHeader({ ...received, conf: { voters: ['a'], learners: ['a'], votersOutgoing: [] } })).toThrow(/both a voter and a learner/);
  });
});
