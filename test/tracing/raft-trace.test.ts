import { describe, expect, it } from 'vitest';
import { RaftTrace } from '../../tracing/raft-trace.ts';
import { MemorySink } from '../../tracing/record.ts';
import { Tracer } from '../../tracing/tracer.ts';

describe('RaftTrace: the driver records its snapshots (Raft §7)', () => {
  it('snapshotTaken and snapshotRestored are local events of the server host, one tick each, with serverId, index and term', () => {
    const sink = new MemorySink();
    const tracer = new Tracer('server1', sink, { server1: 4, server0: 9 });
    const trace = new RaftTrace(tracer, false);
    trace.snapshotTaken({ index: 12, term: 3 });
    trace.snapshotRestored({ index: 20, term: 4 });
    expect(sink.records).toEqual([
      { host: 'server1', traceId: '', tag: 'SnapshotTaken', body: { serverId: 'server1', index: 12, term: 3 }, clock: { server0: 9, server1: 5 } },
      { host: 'server1', traceId: '', tag: 'SnapshotRestored', body: { serverId: 'server1', index: 20, term: 4 }, clock: { server0: 9, server1: 6 } },
    ]);
  });
});
