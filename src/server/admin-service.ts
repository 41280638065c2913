import * as grpc from '@grpc/grpc-js';
import type { PeerTransport } from '../transport/peer-transport.ts';
import type { WireStatus } from '../transport/wire.ts';
import type { ServerEntry } from './config.ts';
import type { LoopMonitor } from './loop-monitor.ts';
import type { RaftNode } from './raft-node.ts';

export interface AdminContext {
  id: string;
  servers: ServerEntry[];
  node: RaftNode;
  transport: PeerTransport;
  loop: LoopMonitor;
  /** Size of the log on disk, bytes (RaftStorage.logBytes). */
  logBytes: () => number;
}

export function status(ctx: AdminContext): WireStatus {
  const st = ctx.node.raft.status();
  return {
    serverId: ctx.id,
    role: st.role,
    term: st.term,
    leaderId: st.leaderId ?? '',
    commitIndex: st.commitIndex,
    appliedIndex: ctx.node.kv.lastApplied,
    lastLogIndex: st.lastIndex,
    peers: ctx.servers
      .filter((s) => s.id !== ctx.id)
      .map((s) => {
        const pr = st.progress?.[s.id];
        return { id: s.id, addr: s.addr, matchIndex: pr?.matchIndex ?? 0, nextIndex: pr?.nextIndex ?? 0, blocked: ctx.transport.isBlocked(s.id) };
      }),
    lastContactMs: ctx.node.msSinceLeaderContact(),
    pid: process.pid,
    loopStallMs: ctx.loop.recentMaxMs(),
    loopStallWorstMs: ctx.loop.worstMaxMs(),
    snapshotIndex: ctx.node.snapshotIndex,
    firstLogIndex: st.firstIndex,
    logBytes: ctx.logBytes(),
    rssBytes: process.memoryUsage.rss(),
    heapUsedBytes: process.memoryUsage().heapUsed,
  };
}

/** Status for operators and the UI, and link cutting for partitions without root. */
export function adminHandlers(ctx: AdminContext): grpc.UntypedServiceImplementation {
  return {
    Status(_call: grpc.ServerUnaryCall<object, WireStatus>, callback: grpc.sendUnaryData<WireStatus>) {
      callback(null, status(ctx));
    },
    SetBlockedPeers(call: grpc.ServerUnaryCall<{ peers: string[] }, WireStatus>, callback: grpc.sendUnaryData<WireStatus>) {
      const known = new Set(ctx.servers.map((s) => s.id));
      const unknown = call.request.peers.filter((p) => !known.has(p) || p === ctx.id);
      if (unknown.length > 0) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `not a peer of ${ctx.id}: ${unknown.join(', ')}` });
        return;
      }
      ctx.transport.setBlocked(call.request.peers);
      callback(null, status(ctx));
    },
  };
}
