import * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { CollectorSink } from '../../tracing/collector-sink.ts';
import { NullSink, type TraceSink } from '../../tracing/record.ts';
import { Tracer } from '../../tracing/tracer.ts';
import type { VectorClock } from '../../tracing/clock.ts';
import { RaftStorage } from '../storage/raft-storage.ts';
import { PeerTransport, raftPeerHandlers } from '../transport/peer-transport.ts';
import { AdminService, KVService, RaftPeerService, serverOptions } from '../transport/proto.ts';
import { adminHandlers } from './admin-service.ts';
import { LoopMonitor } from './loop-monitor.ts';
import { ConfigError, type ClusterConfig } from './config.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { Forwarder } from './forwarder.ts';
import { kvHandlers } from './kv-service.ts';
import { RaftNode } from './raft-node.ts';

interface ServerOptions {
  /** Where records go; by default the config's tracing server, or nowhere. */
  sink?: TraceSink;
  /** The clock this server's host stopped at in an earlier life, so its counter continues. */
  initialClock?: VectorClock;
  /** Storage failed under the node; by default the process logs and exits. */
  onFatal?: (err: Error) => void;
  /**
   * If log.db lost entries this node acknowledged (or is damaged), set it aside and
   * rejoin with an empty log instead of refusing to start (`raftkv node --rejoin-empty`;
   * RaftStorage.open's rejoinEmpty).
   */
  rejoinEmpty?: boolean;
}

interface RunningServer {
  id: string;
  addr: string;
  dataDir: string;
  node: RaftNode;
  tracer: Tracer;
  stop(): Promise<void>;
}

/**
 * Starts one server of the cluster. The order keeps a second process away from a running
 * node's files: lock the data directory (a held lock is refused with its holder's pid),
 * then bind the port (the services answer UNAVAILABLE until the node is ready), and only
 * then open the trace spool and storage (NeDB rewrites a file when it loads it). A failing
 * lock or bind never touches a file of the data directory.
 */
export async function startServer(config: ClusterConfig, id: string, opts: ServerOptions = {}): Promise<RunningServer> {
  const self = config.servers.find((s) => s.id === id);
  if (!self) throw new ConfigError(`no server "${id}" in the config (servers: ${config.servers.map((s) => s.id).join(', ')})`);
  const dataDir = path.join(config.dataDir, id);
  const onFatal =
    opts.onFatal ??
    ((err: Error) => {
      console.error(`${id}: fatal storage error, stopping: ${err.message}`);
      process.exit(1);
    });
  // Someone removed the lock under the running node (rm -rf of its directory): what is on
  // disk is no longer known to be this node's alone, so it stops as on a storage failure.
  const lock = await lockDataDir(dataDir, `raftkv node --id ${id}`, opts.onFatal ?? ((err) => (console.error(`${id}: ${err.message}; stopping`), process.exit(1))));

  const handlers = new Map<grpc.ServiceDefinition, grpc.UntypedServiceImplementation>();
  const server = new grpc.Server(serverOptions);
  for (const service of [RaftPeerService.service, KVService.service, AdminService.service]) server.addService(service, gated(service, handlers, id));
  try {
    await new Promise<number>((resolve, reject) => server.bindAsync(self.addr, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  } catch (err) {
    server.forceShutdown();
    await lock.release();
    throw new Error(`${id} cannot listen on ${self.addr}: ${(err as Error).message}`);
  }

  let sink = opts.sink ?? new NullSink();
  let initialClock = opts.initialClock;
  let collector: CollectorSink | null = null;
  let tracedApplyIndex: number | undefined;
  let storage: RaftStorage | null = null;
  try {
    if (!opts.sink && config.traceServer) {
      const opened = await CollectorSink.open({ addr: config.traceServer, host: id, spoolFile: path.join(dataDir, 'trace-spool.jsonl') });
      ({ sink: collector, initialClock } = opened);
      sink = collector;
      // How far the trace has taken this state machine: the highest Apply or SnapshotRestored.
      // The highest, not the last: a node that rejoined empty restores a snapshot below what
      // it had applied, then applies up to there again untraced (see tracedApplyIndex).
      tracedApplyIndex = maxIndex(opened.spooled.filter((r) => r.tag === 'Apply' || r.tag === 'SnapshotRestored').map((r) => r.body.index));
    }
    storage = await RaftStorage.open(dataDir, { rejoinEmpty: opts.rejoinEmpty ?? false });
  } catch (err) {
    server.forceShutdown();
    await collector?.close();
    await lock.release();
    throw err;
  }
  if (storage.rejoined) {
    const r = storage.rejoined;
    // The refusal's advice to use --rejoin-empty is what is being done: drop it.
    console.log(`${id}: --rejoin-empty: ${r.reason.replace(/[;,]? *\(?(restore it, or )?start with --rejoin-empty[^)]*\)?\s*$/, '')}`);
    const moved = r.snapshotMovedTo ? `the old log is now ${r.movedTo} and the damaged snapshot ${r.snapshotMovedTo}` : `the old log is now ${r.movedTo}`;
    const votes = r.catchUpIndex > 0 ? `no votes until the log reaches index ${r.catchUpIndex} again` : 'its snapshot holds all it had acknowledged';
    console.log(`${id}: ${moved}; rejoining with an empty log, term and vote kept; ${votes}`);
  } else if (opts.rejoinEmpty) {
    console.log(`${id}: --rejoin-empty: the log is sound, nothing to rejoin; starting normally`);
  }
  const openedStorage = storage;
  const tracer = new Tracer(id, sink, initialClock);
  tracer.record('ServerStart', { serverId: id });
  // `node` is declared below: a link can only break once the started node has sent on it.
  const transport = new PeerTransport(id, config.servers, (peer) => node.leaderUnreachable(peer), { onSnapshotReport: (peer, ok) => node.reportSnapshot(peer, ok) });
  const forwarder = new Forwarder(config.servers, id, (peer) => transport.isBlocked(peer));
  const node = new RaftNode({
    id,
    peers: config.servers.map((s) => s.id),
    storage,
    timing: config.timing,
    replication: config.replication,
    compaction: config.compaction,
    send: (messages) => transport.send(messages),
    tracer,
    traceHeartbeats: config.traceHeartbeats,
    tracedApplyIndex,
    onFatal,
  });

  handlers.set(RaftPeerService.service, raftPeerHandlers(id, config.servers.map((s) => s.id), transport, (messages) => node.step(messages)));
  handlers.set(KVService.service, kvHandlers({ id, node, tracer, forwarder, commitTimeoutMs: config.commitTimeoutMs, quotaBytes: config.memory.quotaBytes, quota: { pendingBytes: 0 }, noLeaderWaitMs: 4 * config.timing.electionTick * config.timing.tickMs, peerCount: config.servers.length }));
  const loop = new LoopMonitor();
  handlers.set(AdminService.service, adminHandlers({ id, servers: config.servers, node, transport, loop, logBytes: () => openedStorage.logBytes() }));
  node.start();
  tracer.record('ServerListening', { serverId: id, addr: self.addr });

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await node.stop();
      loop.stop();
      server.forceShutdown();
      transport.close();
      forwarder.close();
      await openedStorage.close();
      await collector?.close();
      await lock.release();
    })());
  return { id, addr: self.addr, dataDir, node, tracer, stop };
}

/** The largest of the integer indexes given, or undefined when there is none. */
function maxIndex(indexes: unknown[]): number | undefined {
  const valid = indexes.filter((i): i is number => Number.isSafeInteger(i));
  return valid.length > 0 ? valid.reduce((a, b) => Math.max(a, b)) : undefined;
}

/**
 * The service's methods, answering UNAVAILABLE (worth a retry, like a server that is not
 * up yet) until `ready` holds the real handlers for it.
 */
function gated(service: grpc.ServiceDefinition, ready: Map<grpc.ServiceDefinition, grpc.UntypedServiceImplementation>, id: string): grpc.UntypedServiceImplementation {
  const notYet = { code: grpc.status.UNAVAILABLE, details: `${id} is starting` };
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(service)) {
    impl[name] = ((call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
      const real = ready.get(service)?.[name] as ((...args: unknown[]) => void) | undefined;
      if (real) return real(call, callback);
      if (method.responseStream) (call as grpc.ServerDuplexStream<unknown, unknown>).emit('error', notYet);
      else callback!(notYet);
    }) as grpc.UntypedHandleCall;
  }
  return impl;
}
