import * as grpc from '@grpc/grpc-js';
import { members, type ConfChange } from '../raft/conf-change.ts';
import type { ConfState } from '../raft/types.ts';
import type { PeerTransport } from '../transport/peer-transport.ts';
import type { WireAdminResult, WireMemberList, WireStatus } from '../transport/wire.ts';
import { isHostPort, serverIdProblem } from './config.ts';
import { ConfChangeRefusedError, NotLeaderError } from './errors.ts';
import type { LoopMonitor } from './loop-monitor.ts';
import { setFaults } from './fault-injection.ts';
import { encodeMemberContext, PROMOTE_MARGIN_ENTRIES, type Membership } from './membership.ts';
import type { RaftNode } from './raft-node.ts';

export interface AdminContext {
  id: string;
  node: RaftNode;
  transport: PeerTransport;
  loop: LoopMonitor;
  /** Size of the log on disk, bytes (RaftStorage.logBytes). */
  logBytes: () => number;
  /** Addresses, the applied configuration and removals (src/server/membership.ts). */
  membership: Membership;
  /** The other servers this one talks to now (the members of its configurations). */
  peerIds: () => string[];
  /** How long a change may take to commit, ms, before the answer is TIMEOUT (config commitTimeoutMs). */
  commitTimeoutMs: number;
  /** One election timeout, ms: how long a leadership transfer may take before it is given up (thesis §3.10). */
  electionMs: number;
}

/** Status of this server for `raftkv status` and the UI; `peers` are the members it talks to now. */
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
    peers: ctx.peerIds().map((id) => {
      const pr = st.progress?.[id];
      return { id, addr: ctx.membership.addrOf(id) ?? '', matchIndex: pr?.matchIndex ?? 0, nextIndex: pr?.nextIndex ?? 0, blocked: ctx.transport.isBlocked(id) };
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

/**
 * The configuration in force on this server (the latest in its log, committed or not:
 * Raft §6), each member with its address (learned from the config entries' context) and,
 * on the leader, how far its log matches.
 */
export function memberList(ctx: AdminContext): WireMemberList {
  const st = ctx.node.raft.status();
  const conf = st.conf;
  return {
    members: members(conf).map((id) => ({
      id,
      addr: ctx.membership.addrOf(id) ?? '',
      learner: conf.learners.includes(id),
      outgoing: conf.votersOutgoing.includes(id) && !conf.voters.includes(id),
      matchIndex: id === ctx.id && st.role === 'leader' ? st.lastIndex : (st.progress?.[id]?.matchIndex ?? 0),
    })),
    leaderId: st.leaderId ?? '',
    term: st.term,
    joint: conf.votersOutgoing.length > 0,
    confIndex: st.confIndex,
    lastIndex: st.lastIndex,
  };
}

type Code = 'NOT_LEADER' | 'NO_LEADER' | 'INVALID' | 'BUSY' | 'TIMEOUT';

/** A refusal or failure, answered as AdminResult { ok: false, code, error }. */
class AdminFailure extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly leaderId: string | null = null,
  ) {
    super(message);
  }
}

/**
 * Status for operators and the UI, link cutting for partitions without root, and
 * membership changes (Raft §6, thesis ch. 4) and leadership transfer (thesis §3.10).
 *
 * Membership changes run on the leader only; any other server answers NOT_LEADER with the
 * leader it knows (NO_LEADER when none), and the caller asks that one. One operation at a
 * time per leader: another one meanwhile is answered BUSY, as are the core's refusals
 * while a change is uncommitted, the joint configuration not left, or a transfer under way.
 *
 * - MemberAdd(id, addr, learner): adds `id` as a learner (addLearnerNode) with `addr` in
 *   the ConfChange's context (etcd's ConfChange.Context), answering once committed when
 *   `learner`; otherwise it then waits until the learner is caught up (its matchIndex within
 *   PROMOTE_MARGIN_ENTRIES, 1,000, of the leader's last index), promotes it (addNode, through
 *   the joint configuration) and answers once the leave-joint entry is applied here. If it
 *   does not catch up before the call's deadline: TIMEOUT, and it stays a learner.
 * - MemberPromote(id): INVALID unless `id` is a learner that is caught up (same margin).
 * - MemberRemove(id): removes a learner or a voter (through joint consensus), answering once
 *   the configuration without it is applied here. Removing the leader itself: it first
 *   hands leadership to the most up-to-date other voter, then answers NOT_LEADER naming
 *   it, and the caller asks the new leader to remove the old one (a leader never has to
 *   manage a configuration that excludes it, thesis §4.2.2).
 * - TransferLeader(target): '' picks the most up-to-date other voter; answers once this
 *   server has seen the target lead, TIMEOUT after an election timeout and a margin.
 */
export function adminHandlers(ctx: AdminContext): grpc.UntypedServiceImplementation {
  let busy: string | null = null;
  /** Runs one change at a time; maps what it throws to an AdminResult. */
  const run = (what: string, call: grpc.ServerUnaryCall<unknown, WireAdminResult>, callback: grpc.sendUnaryData<WireAdminResult>, body: (deadline: number) => Promise<void>) => {
    const answer = (r: Partial<WireAdminResult>) => callback(null, { ok: false, code: '', error: '', leaderId: ctx.node.leaderId ?? '', members: memberList(ctx), ...r });
    if (!ctx.node.isLeader) {
      const leader = ctx.node.leaderId;
      answer(leader ? { code: 'NOT_LEADER', error: `${ctx.id} is not the leader (leader: ${leader})`, leaderId: leader } : { code: 'NO_LEADER', error: `${ctx.id} knows no leader now; retry shortly` });
      return;
    }
    if (busy !== null) {
      answer({ code: 'BUSY', error: `${busy} is under way on ${ctx.id}: one change at a time, retry when it is done` });
      return;
    }
    busy = what;
    body(callDeadline(call))
      .then(
        () => answer({ ok: true }),
        (err: unknown) => {
          if (err instanceof AdminFailure) answer({ code: err.code, error: err.message, ...(err.leaderId ? { leaderId: err.leaderId } : {}) });
          else if (err instanceof ConfChangeRefusedError) answer({ code: err.code, error: err.message, ...(err.leaderId ? { leaderId: err.leaderId } : {}) });
          else if (err instanceof NotLeaderError) answer({ code: err.leaderId ? 'NOT_LEADER' : 'NO_LEADER', error: err.message, leaderId: err.leaderId ?? '' });
          else answer({ code: 'TIMEOUT', error: (err as Error).message });
        },
      )
      .finally(() => (busy = null));
  };

  return {
    Status(_call: grpc.ServerUnaryCall<object, WireStatus>, callback: grpc.sendUnaryData<WireStatus>) {
      callback(null, status(ctx));
    },
    SetBlockedPeers(call: grpc.ServerUnaryCall<{ peers: string[]; inboundOnly: string[]; outboundOnly: string[] }, WireStatus>, callback: grpc.sendUnaryData<WireStatus>) {
      // Any server this one knows of, removed ones included (a harness may still list them).
      const known = new Set([...ctx.peerIds(), ...ctx.membership.knownIds()]);
      const { peers, inboundOnly, outboundOnly } = call.request;
      const unknown = [...peers, ...inboundOnly, ...outboundOnly].filter((p) => (!known.has(p) && ctx.membership.removedIndex(p) === undefined) || p === ctx.id);
      if (unknown.length > 0) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `not a peer of ${ctx.id}: ${unknown.join(', ')}` });
        return;
      }
      ctx.transport.setBlocked(peers, { inbound: inboundOnly, outbound: outboundOnly });
      callback(null, status(ctx));
    },
    InjectFault(call: grpc.ServerUnaryCall<{ clockSkewMs: number; fsyncDelayMs: number }, WireStatus>, callback: grpc.sendUnaryData<WireStatus>) {
      setFaults({ clockSkewMs: call.request.clockSkewMs, fsyncDelayMs: call.request.fsyncDelayMs }).then(
        () => {
          console.log(`${ctx.id}: fault injection: clock skew ${call.request.clockSkewMs} ms, fsync delay ${call.request.fsyncDelayMs} ms`);
          callback(null, status(ctx));
        },
        (err: Error) => callback({ code: grpc.status.INVALID_ARGUMENT, details: err.message }),
      );
    },
    MemberList(_call: grpc.ServerUnaryCall<object, WireMemberList>, callback: grpc.sendUnaryData<WireMemberList>) {
      callback(null, memberList(ctx));
    },
    MemberAdd(call: grpc.ServerUnaryCall<{ id: string; addr: string; learner: boolean }, WireAdminResult>, callback: grpc.sendUnaryData<WireAdminResult>) {
      const { id, addr, learner } = call.request;
      run(`adding ${id}`, call, callback, async (deadline) => {
        const idProblem = serverIdProblem(id);
        if (idProblem !== null) throw new AdminFailure('INVALID', `server id ${idProblem}`);
        if (!isHostPort(addr)) throw new AdminFailure('INVALID', `address must be host:port with a port 1-65535 (got ${JSON.stringify(addr)})`);
        const conf = ctx.node.raft.confState();
        const removedAt = ctx.membership.removedIndex(id);
        if (removedAt !== undefined) throw new AdminFailure('INVALID', `${id} was removed from the cluster at index ${removedAt}; a removed id is never reused: pick another id`);
        if (members(conf).includes(id)) throw new AdminFailure('INVALID', `${id} is already a member (${conf.learners.includes(id) ? 'a learner' : 'a voter'})`);
        const sameAddr = members(conf).find((m) => ctx.membership.addrOf(m) === addr);
        if (sameAddr !== undefined) throw new AdminFailure('INVALID', `${addr} is already the address of ${sameAddr}`);
        await committed(ctx, propose(ctx, { changes: [{ type: 'addLearnerNode', nodeId: id }], context: encodeMemberContext(addr) }, deadline), `adding ${id} as a learner`);
        if (learner) return;
        await waitFor(() => leading(ctx) && lagOf(ctx, id) <= PROMOTE_MARGIN_ENTRIES, deadline, () => {
          const lag = lagOf(ctx, id);
          return new AdminFailure('TIMEOUT', `${id} was added as a learner but has not caught up (${Number.isFinite(lag) ? `${lag} entries behind` : 'no answer from it yet'}; promotion needs ${PROMOTE_MARGIN_ENTRIES} or fewer): it stays a learner. Start it (raftkv node --id ${id} --join <member>) and run raftkv member promote ${id}`);
        });
        await promote(ctx, id, deadline);
      });
    },
    MemberPromote(call: grpc.ServerUnaryCall<{ id: string }, WireAdminResult>, callback: grpc.sendUnaryData<WireAdminResult>) {
      const { id } = call.request;
      run(`promoting ${id}`, call, callback, async (deadline) => {
        const conf = ctx.node.raft.confState();
        if (!conf.learners.includes(id)) throw new AdminFailure('INVALID', members(conf).includes(id) ? `${id} is already a voter` : `${id} is not a member`);
        const lag = lagOf(ctx, id);
        if (lag > PROMOTE_MARGIN_ENTRIES) {
          const match = ctx.node.raft.status().progress?.[id]?.matchIndex ?? 0;
          throw new AdminFailure('INVALID', `${id} has not caught up: its log matches the leader's up to ${match}, the leader's last index is ${ctx.node.raft.status().lastIndex} (promotion needs ${PROMOTE_MARGIN_ENTRIES} or fewer entries behind); retry once it has`);
        }
        await promote(ctx, id, deadline);
      });
    },
    MemberRemove(call: grpc.ServerUnaryCall<{ id: string }, WireAdminResult>, callback: grpc.sendUnaryData<WireAdminResult>) {
      const { id } = call.request;
      run(`removing ${id}`, call, callback, async (deadline) => {
        const conf = ctx.node.raft.confState();
        if (!members(conf).includes(id)) throw new AdminFailure('INVALID', `${id} is not a member`);
        if (id === ctx.id) {
          const target = mostUpToDateVoter(ctx, conf);
          if (target === null) throw new AdminFailure('INVALID', `${id} is the only voter: add another one first`);
          await transfer(ctx, target, deadline);
          throw new AdminFailure('NOT_LEADER', `${id} handed leadership to ${target} first; ask ${target} to remove ${id}`, target);
        }
        await committed(ctx, propose(ctx, { changes: [{ type: 'removeNode', nodeId: id }] }, deadline), `removing ${id}`);
        // A voter leaves through the joint configuration: done once C_new is applied here.
        await waitFor(() => !members(ctx.membership.conf).includes(id), Math.min(deadline, Date.now() + ctx.commitTimeoutMs), () => new AdminFailure('TIMEOUT', `the joint configuration removing ${id} was not left within ${ctx.commitTimeoutMs} ms`));
      });
    },
    TransferLeader(call: grpc.ServerUnaryCall<{ target: string }, WireAdminResult>, callback: grpc.sendUnaryData<WireAdminResult>) {
      const requested = call.request.target;
      run(`a leadership transfer`, call, callback, async (deadline) => {
        const target = requested || mostUpToDateVoter(ctx, ctx.node.raft.confState());
        if (target === null) throw new AdminFailure('INVALID', `${ctx.id} is the only voter: no one to hand leadership to`);
        await transfer(ctx, target, deadline);
      });
    },
  };
}

/** The call's deadline (ms since the epoch), less a margin for the answer to travel; 60 s when it has none. */
function callDeadline(call: grpc.ServerUnaryCall<unknown, unknown>): number {
  const d = call.getDeadline();
  const at = d instanceof Date ? d.getTime() : Number(d);
  return Number.isFinite(at) && at > 0 ? at - 300 : Date.now() + 60_000;
}

/**
 * True while this server leads; throws NOT_LEADER (or NO_LEADER) once it does not, so a
 * wait on the leader's view (a learner's progress) ends at once when leadership moves.
 */
function leading(ctx: AdminContext): true {
  if (ctx.node.isLeader) return true;
  const leader = ctx.node.leaderId;
  throw new AdminFailure(leader ? 'NOT_LEADER' : 'NO_LEADER', `${ctx.id} lost the leadership during the change${leader ? ` (leader: ${leader})` : ''}; ask the leader (member list shows where it got)`, leader);
}

/**
 * Entries `id`'s log is behind the leader's; Infinity until the leader has heard it
 * acknowledge entries (its progress is in `replicate` state with a matchIndex above 0).
 * Without that rule a learner that never answered (not started yet) would count as
 * caught up on a short log (matchIndex 0, lastIndex a few entries), and promoting it
 * would make it a voter no majority can count on: with one other voter down, a 3-server
 * cluster grown to 4 would lose its quorum.
 */
function lagOf(ctx: AdminContext, id: string): number {
  const st = ctx.node.raft.status();
  const pr = st.progress?.[id];
  if (!pr || pr.state !== 'replicate' || pr.matchIndex === 0) return Infinity;
  return st.lastIndex - pr.matchIndex;
}

/** The voter of C_new other than this leader whose log matches the furthest; null if none. */
function mostUpToDateVoter(ctx: AdminContext, conf: ConfState): string | null {
  const progress = ctx.node.raft.status().progress ?? {};
  const others = conf.voters.filter((v) => v !== ctx.id);
  if (others.length === 0) return null;
  return others.reduce((best, v) => ((progress[v]?.matchIndex ?? 0) > (progress[best]?.matchIndex ?? 0) ? v : best));
}

/**
 * Proposes `change` (RaftNode.proposeConfChange). A leader just elected refuses changes
 * until it has committed an entry of its term (one heartbeat round): that refusal alone is
 * retried, every 50 ms until `deadline`; every other one is answered as it is.
 */
async function propose(ctx: AdminContext, change: ConfChange, deadline: number): Promise<number> {
  for (;;) {
    const p = ctx.node.proposeConfChange(change);
    try {
      await Promise.race([p, sleep(0)]);
    } catch (err) {
      if (err instanceof ConfChangeRefusedError && /not committed an entry of its term/.test(err.message) && Date.now() + 50 < deadline) {
        await sleep(50);
        continue;
      }
      throw err;
    }
    return p;
  }
}

/** Waits for a proposed change to be applied here, for at most commitTimeoutMs. */
async function committed(ctx: AdminContext, applied: Promise<number>, what: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AdminFailure('TIMEOUT', `${what} was proposed but not committed within ${ctx.commitTimeoutMs} ms (it may still commit)`)), ctx.commitTimeoutMs);
  });
  try {
    return await Promise.race([applied, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Makes learner `id` a voter (addNode: the joint configuration, then the leave-joint entry
 * the core appends itself) and waits until C_new with `id` as a voter is applied here.
 * The core refuses a change while the previous one is not complete or before this leader
 * committed an entry of its term (BUSY): that is retried until the deadline.
 */
async function promote(ctx: AdminContext, id: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      await committed(ctx, propose(ctx, { changes: [{ type: 'addNode', nodeId: id }] }, deadline), `promoting ${id}`);
      break;
    } catch (err) {
      if (!(err instanceof ConfChangeRefusedError && err.code === 'BUSY') || Date.now() + 100 > deadline) throw err;
      await sleep(50);
    }
  }
  const done = () => ctx.membership.conf.voters.includes(id) && ctx.membership.conf.votersOutgoing.length === 0;
  await waitFor(done, Math.max(deadline, Date.now() + ctx.commitTimeoutMs), () => new AdminFailure('TIMEOUT', `${id} was promoted but the joint configuration was not left within the deadline`));
}

/**
 * Hands leadership to `target` (Raft.transferLeadership, thesis §3.10) and waits until
 * this server sees it lead. INVALID when the core refuses (not a voter of C_new), TIMEOUT
 * when no new leader emerged within two election timeouts (the core gives up after one,
 * and this server leads on).
 */
async function transfer(ctx: AdminContext, target: string, deadline: number): Promise<void> {
  const res = ctx.node.transferLeadership(target);
  if (!res.ok) {
    if (res.leaderId !== ctx.id) throw new AdminFailure(res.leaderId ? 'NOT_LEADER' : 'NO_LEADER', res.reason, res.leaderId);
    throw new AdminFailure('INVALID', res.reason);
  }
  const until = Math.min(deadline, Date.now() + 2 * ctx.electionMs + 1000);
  await waitFor(
    () => ctx.node.leaderId === target && !ctx.node.isLeader,
    until,
    () => new AdminFailure('TIMEOUT', `${target} did not take over in time; ${ctx.node.isLeader ? `${ctx.id} still leads` : `leader now: ${ctx.node.leaderId ?? 'none'}`}`),
  );
}

/** Polls `cond` every 20 ms until it holds, or rejects with `failure()` at `deadline`. */
async function waitFor(cond: () => boolean, deadline: number, failure: () => Error): Promise<void> {
  while (!cond()) {
    if (Date.now() >= deadline) throw failure();
    await sleep(20);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
