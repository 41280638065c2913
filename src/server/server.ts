import * as grpc from '@grpc/grpc-js';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CollectorSink } from '../../tracing/collector-sink.ts';
import { NullSink, type TraceSink } from '../../tracing/record.ts';
import { Tracer } from '../../tracing/tracer.ts';
import type { VectorClock } from '../../tracing/clock.ts';
import { members } from '../raft/conf-change.ts';
import { RaftStorage } from '../storage/raft-storage.ts';
import { AdminClient } from '../transport/admin-client.ts';
import { PeerTransport, raftPeerHandlers, type SenderCheck } from '../transport/peer-transport.ts';
import { AdminService, KVService, RaftPeerService, serverOptions } from '../transport/proto.ts';
import { adminHandlers } from './admin-service.ts';
import { LoopMonitor } from './loop-monitor.ts';
import { ConfigError, type ClusterConfig, type ServerEntry } from './config.ts';
import { Membership } from './membership.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { Forwarder } from './forwarder.ts';
import { kvHandlers } from './kv-service.ts';
import { RaftNode } from './raft-node.ts';
import { readRemovedMarker, writeRemovedMarker } from './removed-marker.ts';

interface ServerOptions {
  /** Where records go; by default the config's tracing server, or nowhere. */
  sink?: TraceSink;
  /**
   * Runs once the data directory is locked and the port bound, before any file of the
   * data directory is opened; a rejection stops the start (lock released, port closed)
   * with its error. `raftkv node` checks here that a wiped founder is not restarted.
   */
  beforeOpen?: () => Promise<void>;
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
  /**
   * Join a running cluster (`raftkv node --join`): this server is not one of the config
   * file's founding voters, and a member told it (MemberList) its own address (`addr`,
   * given to `raftkv member add`) and the members it knows (`known`). Written to
   * <dataDir>/<id>/member.json, so later starts need no --join.
   */
  join?: JoinInfo;
  /**
   * This server applied a configuration without itself (Raft §6): it logged it and
   * stopped. By default nothing more (`raftkv node` then exits 0).
   */
  onRemoved?: (index: number) => void;
}

/** What a server that joined a running cluster knows of it (member.json). */
export interface JoinInfo {
  /** host:port this server listens on, as `raftkv member add` recorded it. */
  addr: string;
  /** The members (with addresses) the cluster listed when this server joined. */
  known: ServerEntry[];
}

/** The file in a joined server's data directory that records its JoinInfo. */
export const MEMBER_FILE = 'member.json';

interface RunningServer {
  id: string;
  addr: string;
  dataDir: string;
  node: RaftNode;
  tracer: Tracer;
  stop(): Promise<void>;
  /** Resolves with the index of the config entry that removed this server, once it stopped because of it. */
  removed: Promise<number>;
}

/**
 * Starts one server of the cluster. The order keeps a second process away from a running
 * node's files: lock the data directory (a held lock is refused with its holder's pid),
 * then bind the port (the services answer UNAVAILABLE until the node is ready), and only
 * then open the trace spool and storage (NeDB rewrites a file when it loads it). A failing
 * lock or bind never touches a file of the data directory.
 */
export async function startServer(config: ClusterConfig, id: string, opts: ServerOptions = {}): Promise<RunningServer> {
  const dataDir = path.join(config.dataDir, id);
  const join = opts.join ?? readJoinInfo(dataDir);
  const founder = config.servers.find((s) => s.id === id);
  const self = founder ?? (join ? { id, addr: join.addr } : undefined);
  if (!self) {
    throw new ConfigError(
      `no server "${id}" in the config (servers: ${config.servers.map((s) => s.id).join(', ')}) and no data of an earlier join in ${dataDir}. ` +
        `To add it to the running cluster: raftkv member add ${id} <host:port>, then raftkv node --id ${id} --join <host:port of a member>`,
    );
  }
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
  try {
    await opts.beforeOpen?.();
  } catch (err) {
    server.forceShutdown();
    await lock.release();
    throw err;
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
  if (opts.join) writeJoinInfo(dataDir, opts.join);
  const tracer = new Tracer(id, sink, initialClock);
  tracer.record('ServerStart', { serverId: id });
  // The founding voters are the config file's servers; a server that joined knows, besides,
  // the members the cluster listed then, until its log or a snapshot says more.
  const membership = new Membership(id, config.servers, join?.known ?? []);
  let refusedLogged = false;
  // `node` is declared below: a link can only break once the started node has sent on it.
  // No peers yet: syncPeers() below dials the members once the node knows its configuration.
  const transport = new PeerTransport(id, [], (peer) => node.leaderUnreachable(peer), {
    onSnapshotReport: (peer, ok) => node.reportSnapshot(peer, ok),
    onRefused: (peer, details) => {
      if (!refusedLogged) console.error(`${id}: ${peer} refuses this server's Raft messages (${details})`);
      refusedLogged = true;
      // A member applied a committed entry that removed this server, which missed it (it
      // was down, or its commit index on disk lagged): committed is final, so it stops too.
      const m = new RegExp(`^refused: ${id.replace(/[.]/g, '\\.')} was removed from the cluster at index (\\d+)`).exec(details);
      if (m) stopForRemoval?.(Number(m[1]), peer);
    },
  });
  const forwarder = new Forwarder([], id, (peer) => transport.isBlocked(peer));
  let removedResolve!: (index: number) => void;
  const removed = new Promise<number>((resolve) => (removedResolve = resolve));
  let stopForRemoval: ((index: number, by?: string) => void) | null = null;
  const node = new RaftNode({
    id,
    peers: config.servers.map((s) => s.id),
    membership,
    onMembershipChange: () => syncPeers(),
    onRemoved: (index) => stopForRemoval?.(index),
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

  /**
   * The peers to send to (and forward to) follow the membership (Raft §6): the members of
   * the core's configuration (the latest in the log: a leader replicates to a learner
   * before its entry commits) and of the applied one (a member being removed still gets
   * the entries up to its removal). A server not yet in its own configuration (joined,
   * waiting for the log) talks to every member it was told about.
   */
  function peerIds(): string[] {
    const conf = node.raft.confState();
    const ids = new Set([...members(conf), ...members(membership.conf), ...[...contacts].filter((c) => membership.removedIndex(c) === undefined)]);
    if (!ids.has(id)) for (const k of membership.knownIds()) if (membership.removedIndex(k) === undefined) ids.add(k);
    ids.delete(id);
    return [...ids];
  }
  function syncPeers(): void {
    const wanted = membership.entriesOf(peerIds());
    const keep = new Set(wanted.map((p) => p.id));
    for (const p of transport.peers()) {
      if (keep.has(p.id)) continue;
      transport.removePeer(p.id);
      forwarder.removePeer(p.id);
    }
    for (const p of wanted) {
      transport.addPeer(p.id, p.addr);
      forwarder.addPeer(p.id, p.addr);
    }
  }
  /**
   * Senders outside this server's configuration whose address it looked up: members added
   * while it lagged (its log does not hold their entry yet). It must answer them (a leader
   * among them cannot bring it up to date otherwise), so it dials them too.
   */
  const contacts = new Set<string>();
  const lookedUp = new Map<string, number>();
  /**
   * Asks the members this server knows (MemberList) where `from` listens, at most once a
   * second per sender; on an answer, dials it. Raft messages carry no address, and the
   * config entry that records it may be among the entries this server still lacks.
   */
  function lookUpAddress(from: string): void {
    if (membership.addrOf(from) !== undefined || Date.now() - (lookedUp.get(from) ?? 0) < 1000) return;
    lookedUp.set(from, Date.now());
    void (async () => {
      for (const p of transport.peers()) {
        const admin = new AdminClient(p.addr);
        try {
          const found = (await admin.memberList(1000)).members.find((m) => m.id === from && m.addr !== '');
          if (!found) continue;
          membership.noteAddress(from, found.addr);
          contacts.add(from);
          syncPeers();
          return;
        } catch {
          // That member is down or slow: ask the next one.
        } finally {
          admin.close();
        }
      }
    })();
  }
  syncPeers();

  // A removed server is refused (it should have stopped; one restarted from an old log
  // must not disturb the cluster, thesis §4.2.3). A sender this server never heard of may
  // not ask for or give votes, nor force an election (TimeoutNow); its replication traffic
  // is taken, because a member that lagged behind a change learns of the new members from
  // the leader, which may be one of them (refusing it would leave that member stuck).
  const senderCheck: SenderCheck = (from, type) => {
    const at = membership.removedIndex(from);
    if (at !== undefined) return { reason: `${from} was removed from the cluster at index ${at}; it takes no more part`, removed: true };
    const conf = node.raft.confState();
    if (membership.addrOf(from) !== undefined || members(conf).includes(from) || members(membership.conf).includes(from)) return null;
    if (type !== 'RequestVote' && type !== 'RequestVoteRes' && type !== 'TimeoutNow') {
      lookUpAddress(from);
      return null;
    }
    return { reason: `sender "${from}" is not a peer of ${id}: not a member of its configuration`, removed: false };
  };
  handlers.set(RaftPeerService.service, raftPeerHandlers(id, senderCheck, transport, (messages) => node.step(messages)));
  handlers.set(
    KVService.service,
    kvHandlers({
      id,
      node,
      tracer,
      forwarder,
      commitTimeoutMs: config.commitTimeoutMs,
      quotaBytes: config.memory.quotaBytes,
      quota: { pendingBytes: 0 },
      noLeaderWaitMs: 4 * config.timing.electionTick * config.timing.tickMs,
      // Read when a message needs it: the voters change with the membership.
      get peerCount() {
        const voters = node.raft.confState().voters.length;
        return voters > 0 ? voters : config.servers.length;
      },
    }),
  );
  const loop = new LoopMonitor();
  handlers.set(
    AdminService.service,
    adminHandlers({ id, node, transport, loop, logBytes: () => openedStorage.logBytes(), membership, peerIds, commitTimeoutMs: config.commitTimeoutMs, electionMs: config.timing.electionTick * config.timing.tickMs }),
  );

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
  // Removed (Raft §6): it says so and stops, after an election timeout, so the last
  // messages of the Ready that applied C_new (the leader's commit of it) reach the others.
  let removing = false;
  stopForRemoval = (index, by) => {
    if (removing) return;
    removing = true;
    console.log(`${id}: removed from the cluster at index ${index}${by ? ` (as ${by} says)` : ''}; stopping`);
    // Remembered on disk: the entry may lie above the commit index this server saved, so a
    // restart would not replay it and would believe it still a member.
    writeRemovedMarker(dataDir, index);
    setTimeout(() => void stop().then(() => removedResolve(index), () => removedResolve(index)), config.timing.electionTick * config.timing.tickMs).unref();
  };
  const removedAt = node.removedAt ?? readRemovedMarker(dataDir);
  if (removedAt !== null) {
    stopForRemoval(removedAt);
  } else {
    node.start();
    tracer.record('ServerListening', { serverId: id, addr: self.addr });
  }
  return { id, addr: self.addr, dataDir, node, tracer, stop, removed };
}

/** The JoinInfo a joined server recorded in its data directory, or null (a founder, or no data yet). */
function readJoinInfo(dataDir: string): JoinInfo | null {
  const file = path.join(dataDir, MEMBER_FILE);
  if (!existsSync(file)) return null;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as JoinInfo;
    if (typeof v.addr !== 'string' || !Array.isArray(v.known)) throw new Error('needs {addr, known}');
    return v;
  } catch (err) {
    throw new ConfigError(`${file} is damaged: ${(err as Error).message}`);
  }
}


/** Records how this server joined, atomically (temp file, rename). */
function writeJoinInfo(dataDir: string, info: JoinInfo): void {
  const file = path.join(dataDir, MEMBER_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
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
