import { RaftTrace } from '../../tracing/raft-trace.ts';
import type { Tracer } from '../../tracing/tracer.ts';
import type { OpResult, ReadOp } from '../kv/command.ts';
import { KvStateMachine, type ApplyResult } from '../kv/state-machine.ts';
import { type ConfChange } from '../raft/conf-change.ts';
import { Raft, type TransferResult } from '../raft/raft.ts';
import { seededRng } from '../raft/rng.ts';
import type { Entry, HardState, Message, ReadState, Ready, Role, Snapshot } from '../raft/types.ts';
import { MAX_ENTRY_BYTES, wireEntrySize } from '../transport/wire-size.ts';
import { DEFAULT_COMPACTION, DEFAULT_REPLICATION } from './config.ts';
import { ConfChangeRefusedError, EntryTooLargeError, NotLeaderError } from './errors.ts';
import { Membership } from './membership.ts';
import { LogClock } from './log-clock.ts';
import { mark } from '../../tracing/timeline.ts';

export interface Timing {
  /** Wall-clock ms per Raft tick. */
  tickMs: number;
  electionTick: number;
  heartbeatTick: number;
}

/**
 * How much replication may carry at once, in bytes of encoded entries (wireEntrySize:
 * their protobuf size on the peer streams, where a KV command's JSON is what it
 * became, a NUL 6 bytes).
 */
export interface ReplicationLimits {
  /** Bytes of entries per AppendEntries; a bigger single entry goes alone (etcd's MaxSizePerMsg). */
  maxSizePerMsg: number;
  /** Bytes of entries in flight, unacknowledged, per follower (etcd's MaxInflightBytes); 0: no bound. */
  maxInflightBytes: number;
}

/**
 * When a server snapshots its state machine and compacts its log (Raft §7), in entries.
 * Each server decides on its own, as in the paper; a leader sends its snapshot to a
 * follower that needs entries compacted away.
 */
export interface CompactionPolicy {
  /** Snapshot once this many entries were applied since the last snapshot (etcd's --snapshot-count). */
  snapshotCount: number;
  /**
   * Entries kept in the log below a snapshot, so a follower a little behind catches up
   * from the log instead of receiving the whole snapshot (etcd's SnapshotCatchUpEntries,
   * hashicorp/raft's TrailingLogs).
   */
  catchUpEntries: number;
}

/**
 * What RaftNode needs of durable storage (RaftStorage in src/storage implements it).
 * Every promise resolves only once what it wrote is fsynced, and rejects on a failed write.
 */
export interface NodeStorage {
  /** What was on disk at open: the latest snapshot (or none) and the log entries after it. */
  initialState(): { hardState: HardState; entries: Entry[]; snapshot?: Snapshot | null };
  /** Ready's snapshot (installed from the leader; it replaces the whole log), then hard state and entries. */
  save(hardState: HardState | null, entries: Entry[], snapshot?: Snapshot | null): Promise<void>;
  /** A snapshot this node took of its own state machine; the log is left alone. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** Forgets log entries up to `index`, which a durable snapshot covers. */
  compactLog(index: number): Promise<void>;
  readonly incarnation: number;
  readonly catchUpIndex: number;
}

export interface RaftNodeOptions {
  id: string;
  peers: string[];
  storage: NodeStorage;
  /** Default DEFAULT_COMPACTION: a snapshot every 10,000 entries, 5,000 kept below it. */
  compaction?: CompactionPolicy;
  timing: Timing;
  /** Default: 1 MiB per message, 16 MiB in flight per follower. */
  replication?: ReplicationLimits;
  /** The biggest entry propose() accepts, in wireEntrySize bytes. Default MAX_ENTRY_BYTES (63 MiB). */
  maxEntryBytes?: number;
  send: (messages: Message[]) => void;
  tracer?: Tracer;
  traceHeartbeats?: boolean;
  /**
   * The last index this server traced an Apply for in this run, or a SnapshotRestored
   * after it (from its spool): where the trace left its state machine. The
   * restart replays silently only up to there, so the trace shows every index applied
   * once: none skipped because the commit index on disk ran ahead of the applies, none
   * repeated because it lagged behind them. A node that rejoined empty applies those
   * indexes again as its log refills, untraced for the same reason.
   */
  tracedApplyIndex?: number;
  /** Storage failed: nothing more can be acknowledged safely. */
  onFatal: (err: Error) => void;
  /**
   * The membership this node keeps (addresses, removals; src/server/membership.ts), built
   * by the server from the founding voters. Default: `peers` as founding voters, with no
   * addresses (tests of the node alone).
   */
  membership?: Membership;
  /**
   * The membership changed: a config entry was appended or applied, or a snapshot
   * installed (Raft §6). The server dials new members and forgets removed ones. Called
   * before the Ready's messages leave, so a new learner's first AppendEntries is not lost.
   */
  onMembershipChange?: () => void;
  /**
   * This node applied a configuration without itself (it was removed, Raft §6; for a
   * voter, by the leave-joint entry C_new, thesis §4.2.2): the index of that entry. Called
   * once, after the Ready that applied it was sent, so the leader's last AppendEntries
   * (which carries that commit to the others) has left.
   */
  onRemoved?: (index: number) => void;
}

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

/**
 * One Raft participant in a process: drives the core with a wall-clock ticker, runs its
 * Ready loop (send, apply, persist with fsync, advance), and turns proposals and reads
 * into promises.
 */
export class RaftNode {
  readonly raft: Raft;
  readonly kv = new KvStateMachine();
  private readonly opts: RaftNodeOptions;
  /** Records the core's Raft actions, and the Apply actions this driver takes. */
  private readonly trace: RaftTrace | null;
  private ticker: NodeJS.Timeout | null = null;
  private draining = false;
  private stopped = false;
  private lastLeaderContact = Date.now();
  private readonly proposalWaiters = new Map<number, Waiter<ApplyResult | null> & { term: number }>();
  private pendingProposals: ({ data: string; traceId?: string } & Waiter<ApplyResult | null>)[] = [];
  private readonly readWaiters = new Map<string, Waiter<number>>();
  private readonly readsAwaitingApply: ({ index: number } & Waiter<number>)[] = [];
  private readSeq = 0;
  /** TTL time; see LogClock for why it is not Date.now(). */
  private readonly clock = new LogClock();
  /** The term in which this node last took over the log clock as leader. */
  private clockLedTerm = -1;
  private roleListeners: (() => void)[] = [];
  /**
   * The latest snapshot this node holds (RaftConfig.latestSnapshot): taken here once
   * durable, or installed from a leader. Kept in memory to send to followers.
   */
  private latest: Snapshot | null;
  /** Term of the entry at kv.lastApplied: a snapshot at that index carries it. */
  private appliedTerm = 0;
  /** A snapshot of this node's own is being written; one at a time. */
  private snapshotting = false;
  private readonly compaction: CompactionPolicy;
  /** Addresses, applied configuration and removals (Raft §6), kept with the state machine. */
  readonly membership: Membership;
  /** Index of the config entry that removed this node, once applied (or found at start); null while a member. */
  private removedIndex: number | null = null;

  constructor(opts: RaftNodeOptions) {
    this.opts = opts;
    this.compaction = opts.compaction ?? DEFAULT_COMPACTION;
    this.membership = opts.membership ?? new Membership(opts.id, opts.peers.map((id) => ({ id, addr: '' })));
    const { hardState, entries, snapshot = null } = opts.storage.initialState();
    this.trace = opts.tracer ? new RaftTrace(opts.tracer, opts.traceHeartbeats ?? false) : null;
    this.latest = snapshot;
    // The snapshot's configuration, when it records one (snapshots from before membership
    // changes do not: the core then starts from the founding voters, `peers`).
    let snapshotConf: Snapshot['conf'];
    if (snapshot) {
      const m = this.kv.restore(snapshot.data, snapshot.index);
      this.membership.restore(m, snapshot.index);
      if (m) snapshotConf = this.membership.conf;
      if (this.membership.removedIndex(opts.id) !== undefined) this.removedIndex = this.membership.removedIndex(opts.id)!;
      this.appliedTerm = snapshot.term;
      // The spool shows this server had not applied that far (a snapshot from the leader
      // was installed, and the node stopped before applying past it): say where its
      // Applies continue, or they would seem to skip the indexes the snapshot covers.
      if (opts.tracedApplyIndex !== undefined && snapshot.index > opts.tracedApplyIndex) this.trace?.snapshotRestored(snapshot);
    }
    // Rebuild the state machine without tracing it again: those Apply actions were
    // recorded in an earlier life. Whatever was applied was committed, even if the
    // commit index on disk lagged behind.
    const replayTo = Math.min(opts.tracedApplyIndex ?? hardState.commitIndex, entries.at(-1)?.index ?? 0);
    for (const e of entries) {
      if (e.index > replayTo) break;
      if (e.index <= this.kv.lastApplied) continue;
      this.kv.apply(e);
      if (this.membership.apply(e)) this.removedIndex = e.index;
      this.appliedTerm = e.term;
    }
    // Addresses of members added by entries not applied yet (a leader dials them at once).
    this.membership.noteAppended(entries);
    this.raft = new Raft({
      id: opts.id,
      peers: opts.peers,
      electionTick: opts.timing.electionTick,
      heartbeatTick: opts.timing.heartbeatTick,
      rng: seededRng(hashSeed(opts.id) ^ Date.now()),
      hardState,
      entries,
      ...(snapshot ? { snapshot: { index: snapshot.index, term: snapshot.term, ...(snapshotConf ? { conf: snapshotConf } : {}) } } : {}),
      latestSnapshot: () => this.latest,
      appliedIndex: this.kv.lastApplied,
      traceLogger: this.trace ?? undefined,
      entrySize: wireEntrySize,
      maxSizePerMsg: opts.replication?.maxSizePerMsg ?? DEFAULT_REPLICATION.maxSizePerMsg,
      maxInflightBytes: opts.replication?.maxInflightBytes ?? DEFAULT_REPLICATION.maxInflightBytes,
      incarnation: opts.storage.incarnation,
      catchUpIndex: opts.storage.catchUpIndex,
    });
  }

  start(): void {
    this.ticker = setInterval(() => {
      this.raft.tick();
      this.drain();
    }, this.opts.timing.tickMs);
    this.drain();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.failAll(new Error('server is shutting down'));
  }

  step(messages: Message[]): void {
    if (this.stopped) return;
    for (const m of messages) {
      if (m.type === 'AppendEntries' && m.term >= this.raft.softState().term) {
        this.lastLeaderContact = Date.now();
        if (m.logTime !== undefined) this.clock.observe(m.logTime);
      }
      if (m.type === 'AppendEntries' && m.entries.length > 0) mark('follower.append', m.entries.at(-1)!.index);
      else if (m.type === 'AppendEntriesRes' && m.success) mark('leader.ackRecv', m.matchIndex);
      this.raft.step(m);
    }
    this.drain();
  }

  /**
   * The transport finished streaming an InstallSnapshot to `peer` (`ok`), or gave up on
   * it (Raft.reportSnapshot, etcd's ReportSnapshot).
   */
  reportSnapshot(peer: string, ok: boolean): void {
    if (this.stopped) return;
    this.raft.reportSnapshot(peer, ok);
    this.drain();
  }

  /** The transport's link to `peer` broke; if it led, elect a new leader without waiting out the timeout. */
  leaderUnreachable(peer: string): void {
    if (this.stopped) return;
    this.raft.leaderUnreachable(peer);
    this.drain();
  }

  /**
   * The index of the config entry that removed this node from the cluster (applied here,
   * or found in its snapshot or log at start), or null while it is a member.
   */
  get removedAt(): number | null {
    return this.removedIndex;
  }

  /**
   * Proposes a membership change (Raft §6; Raft.proposeConfChange, etcd's
   * ProposeConfChange) and resolves with the index of its entry once that entry is
   * applied here. Rejects with ConfChangeRefusedError when the core refuses it (code
   * NOT_LEADER, BUSY while another change or a leadership transfer is under way, INVALID
   * for a change that does not apply), and with NotLeaderError when leadership changes
   * before the entry commits (it may still commit under the next leader).
   */
  proposeConfChange(change: ConfChange): Promise<number> {
    if (!this.isLeader) return Promise.reject(new ConfChangeRefusedError('NOT_LEADER', `not the leader${this.leaderId ? ` (leader: ${this.leaderId})` : ''}`, this.leaderId));
    const st = this.raft.status();
    // The core's refusals are sentences; the ones worth a retry are recognized from its
    // state first, so the code does not depend on the wording.
    const busy =
      st.leadTransferee !== null
        ? `a leadership transfer to ${st.leadTransferee} is under way`
        : st.confIndex > st.commitIndex
          ? `the configuration change at index ${st.confIndex} is not committed yet`
          : st.conf.votersOutgoing.length > 0
            ? 'the joint configuration is being left'
            : null;
    if (busy !== null) return Promise.reject(new ConfChangeRefusedError('BUSY', `${busy}: one change at a time, retry shortly`, this.opts.id));
    const res = this.raft.proposeConfChange(change);
    if (!res.ok) {
      const code = res.leaderId !== this.opts.id ? 'NOT_LEADER' : /retry|one change at a time|transfer/.test(res.reason) ? 'BUSY' : 'INVALID';
      return Promise.reject(new ConfChangeRefusedError(code, res.reason, res.leaderId));
    }
    const index = res.index;
    const done = new Promise<number>((resolve, reject) => {
      this.proposalWaiters.set(index, { term: res.term, resolve: () => resolve(index), reject });
    });
    this.drain();
    return done;
  }

  /**
   * Starts a leadership transfer to `target` (Raft.transferLeadership: thesis §3.10,
   * etcd's MsgTransferLeader) and sends what it produced. The result says whether it
   * started; the transfer itself ends when `target` leads, or is given up by the core
   * after an election timeout.
   */
  transferLeadership(target: string): TransferResult {
    const res = this.raft.transferLeadership(target);
    this.drain();
    return res;
  }

  /** Last index of the latest snapshot this node holds (0: none yet). */
  get snapshotIndex(): number {
    return this.latest?.index ?? 0;
  }

  get isLeader(): boolean {
    return this.raft.softState().role === 'leader';
  }

  get leaderId(): string | null {
    return this.raft.softState().leaderId;
  }

  msSinceLeaderContact(): number {
    return this.isLeader ? 0 : Date.now() - this.lastLeaderContact;
  }

  /** Called whenever role or leader may have changed. */
  onRoleChange(listener: () => void): () => void {
    this.roleListeners.push(listener);
    return () => {
      this.roleListeners = this.roleListeners.filter((l) => l !== listener);
    };
  }

  /**
   * Proposes a command; resolves with its result once applied here. Proposals made in
   * one turn of the event loop share one log append, one fsync and one AppendEntries.
   */
  propose(data: string, traceId?: string): Promise<ApplyResult | null> {
    if (!this.isLeader) return Promise.reject(new NotLeaderError(this.leaderId));
    // Refused here, whole: an entry no message can carry would stall every follower.
    const bytes = wireEntrySize({ index: Number.MAX_SAFE_INTEGER, term: Number.MAX_SAFE_INTEGER, kind: 'command', data, ...(traceId ? { traceId } : {}) });
    const limit = this.opts.maxEntryBytes ?? MAX_ENTRY_BYTES;
    if (bytes > limit) return Promise.reject(new EntryTooLargeError(bytes, limit));
    return new Promise((resolve, reject) => {
      if (this.pendingProposals.length === 0) setImmediate(() => this.flushProposals());
      this.pendingProposals.push({ data, traceId, resolve, reject });
    });
  }

  private flushProposals(): void {
    const batch = this.pendingProposals;
    this.pendingProposals = [];
    if (batch.length === 0) return;
    const res = this.raft.propose(batch.map(({ data, traceId }) => ({ data, traceId })));
    if (!res.ok) {
      for (const p of batch) p.reject(new NotLeaderError(res.leaderId));
      return;
    }
    mark('leader.propose', res.index);
    const first = res.index - batch.length + 1;
    batch.forEach((p, k) => this.proposalWaiters.set(first + k, { term: res.term, resolve: p.resolve, reject: p.reject }));
    this.drain();
  }

  /** Linearizable read (ReadIndex): confirm leadership, wait for apply, then read. */
  async read(op: ReadOp): Promise<OpResult> {
    if (!this.isLeader) throw new NotLeaderError(this.leaderId);
    const ctx = String(++this.readSeq);
    const index = await new Promise<number>((resolve, reject) => {
      this.readWaiters.set(ctx, { resolve, reject });
      this.raft.readIndex(ctx);
      this.drain();
    });
    if (this.kv.lastApplied < index) {
      await new Promise<number>((resolve, reject) => this.readsAwaitingApply.push({ index, resolve, reject }));
    }
    return this.kv.read(op, this.clock.now());
  }

  /**
   * Log time in ms (see LogClock): what a leader stamps on a command it proposes (`ts`,
   * and so the base of TTL deadlines) and reads expiry at.
   */
  logNow(): number {
    return this.clock.now();
  }

  // ------------------------------------------------------------ the Ready loop

  /** Runs until the core has nothing more to hand out; re-entrant calls join the loop. */
  private drain(): void {
    if (this.draining || this.stopped) return;
    this.draining = true;
    void this.drainLoop();
  }

  private async drainLoop(): Promise<void> {
    try {
      for (let rd = this.raft.ready(); rd && !this.stopped; rd = this.raft.ready()) {
        await this.handleReady(rd);
      }
    } catch (err) {
      this.fatal(err as Error);
    } finally {
      this.draining = false;
    }
  }

  /** Storage failed (or the node hit a bug): nothing more can be acknowledged safely. */
  private fatal(err: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.failAll(err);
    this.opts.onFatal(err);
  }

  private async handleReady(rd: Ready): Promise<void> {
    const leading = rd.softState.role === 'leader';
    mark(leading ? 'leader.ready' : 'follower.ready', rd.entries.at(-1)?.index ?? 0);
    if (leading && rd.committedEntries.length > 0) mark('leader.ready.commit', rd.committedEntries.at(-1)!.index);
    this.noticeRole(rd.softState.role);
    if (rd.softState.role === 'leader') {
      if (this.clockLedTerm !== rd.softState.term) {
        this.clockLedTerm = rd.softState.term;
        this.clock.lead(this.kv.logicalNow);
      }
      const logTime = this.clock.now();
      for (const m of rd.messages) if (m.type === 'AppendEntries') m.logTime = logTime;
    }
    // Dial a member added by these entries before the messages to it leave.
    this.membership.noteAppended(rd.entries);
    if (rd.confState !== null || rd.entries.some((e) => e.kind === 'config')) this.opts.onMembershipChange?.();
    this.opts.send(rd.messages);
    // Every save fsyncs, so only what must survive a crash is saved: the core leaves a
    // change of the commit index alone out of mustSync (a leader tells it again). Started
    // before applying: the storage writes and starts the fsync at once, and the apply
    // runs while the disk works (the AppendEntries reply still waits for the fsync).
    const saved = rd.mustSync ? this.opts.storage.save(rd.hardState, rd.entries, rd.snapshot) : null;
    // Awaited below; a throw before then (a bug) must not leave its failure unhandled.
    saved?.catch(() => {});
    if (rd.snapshot) this.restoreSnapshot(rd.snapshot);
    const removedBefore = this.removedIndex;
    this.applyCommitted(rd.committedEntries);
    if (rd.snapshot || rd.committedEntries.some((e) => e.kind === 'config')) this.opts.onMembershipChange?.();
    if (removedBefore === null && this.removedIndex !== null) this.opts.onRemoved?.(this.removedIndex);
    this.answerReads(rd.readStates);
    if (saved) {
      await saved;
      mark(leading ? 'leader.saved' : 'follower.saved', rd.entries.at(-1)?.index ?? 0);
    }
    this.maybeSnapshot();
    if (this.stopped) return;
    const held = this.raft.advance(rd);
    if (!leading && held.length > 0) mark('follower.ack', rd.entries.at(-1)?.index ?? 0);
    this.opts.send(held);
  }

  private noticeRole(role: Role): void {
    // Waiters exist only for proposals this node accepted as leader: if it no longer
    // leads, leadership changed under them.
    if (role !== 'leader' && this.proposalWaiters.size > 0) {
      // The entries may still commit under the next leader; the client's retry with the
      // same opId is answered from the session table either way.
      const err = new NotLeaderError(this.leaderId, 'leadership changed before the operation committed; retry (it is applied at most once)');
      for (const w of this.proposalWaiters.values()) w.reject(err);
      this.proposalWaiters.clear();
    }
    for (const l of this.roleListeners) l();
  }

  /**
   * A snapshot the leader sent (§7) replaces the state machine. It becomes the one this
   * node sends on at once, not only once durable: should this node lead before the save
   * resolves, its log already starts after the snapshot, and only this one covers it.
   */
  private restoreSnapshot(snapshot: Snapshot): void {
    this.membership.restore(this.kv.restore(snapshot.data, snapshot.index), snapshot.index);
    const removed = this.membership.removedIndex(this.opts.id);
    if (removed !== undefined && this.removedIndex === null) this.removedIndex = removed;
    this.appliedTerm = snapshot.term;
    this.latest = snapshot;
    this.trace?.snapshotRestored(snapshot);
    this.serveAppliedReads();
  }

  /**
   * Takes a snapshot of the state machine once snapshotCount entries were applied since
   * the last one, and when it is durable lets the core and the log forget what lies more
   * than catchUpEntries below it. Serializing is synchronous (proportional to the data,
   * not the log); writing and fsyncing run while the node goes on serving.
   */
  private maybeSnapshot(): void {
    const index = this.kv.lastApplied;
    if (this.snapshotting || index - (this.latest?.index ?? 0) < this.compaction.snapshotCount) return;
    this.snapshotting = true;
    // The membership rides in the snapshot's data: the snapshot file records only index and term.
    const membership = this.membership.snapshot();
    const snapshot: Snapshot = { index, term: this.appliedTerm, conf: membership.conf, data: this.kv.snapshot(membership) };
    this.opts.storage
      .saveSnapshot(snapshot)
      .then(async () => {
        this.snapshotting = false;
        if (this.stopped || (this.latest && this.latest.index >= snapshot.index)) return;
        this.latest = snapshot;
        this.trace?.snapshotTaken(snapshot);
        const compactTo = snapshot.index - this.compaction.catchUpEntries;
        if (compactTo <= this.raft.status().snapshotIndex) return;
        this.raft.compact(compactTo);
        await this.opts.storage.compactLog(compactTo);
      })
      .catch((err: unknown) => this.fatal(err as Error));
  }

  private applyCommitted(entries: Entry[]): void {
    for (const e of entries) {
      const result = this.kv.apply(e);
      if (this.membership.apply(e) && this.removedIndex === null) this.removedIndex = e.index;
      this.appliedTerm = e.term;
      if (e.index > (this.opts.tracedApplyIndex ?? 0)) this.trace?.apply(e, result ? { clientId: result.clientId, opId: result.opId, ...(result.duplicate ? { duplicate: true } : {}), ...(result.result.ok ? {} : { error: result.result.error }) } : {});
      const w = this.proposalWaiters.get(e.index);
      if (!w) continue;
      this.proposalWaiters.delete(e.index);
      if (w.term === e.term) w.resolve(result);
      else w.reject(new NotLeaderError(this.leaderId, 'the proposal was replaced by a newer leader; retry'));
    }
    if (entries.length > 0) this.serveAppliedReads();
  }

  private answerReads(states: ReadState[]): void {
    for (const rs of states) {
      const w = this.readWaiters.get(rs.ctx);
      if (!w) continue;
      this.readWaiters.delete(rs.ctx);
      if ('error' in rs) w.reject(new NotLeaderError(this.leaderId, rs.error));
      else w.resolve(rs.index);
    }
  }

  private serveAppliedReads(): void {
    for (let k = this.readsAwaitingApply.length - 1; k >= 0; k--) {
      const r = this.readsAwaitingApply[k];
      if (r.index <= this.kv.lastApplied) {
        this.readsAwaitingApply.splice(k, 1);
        r.resolve(r.index);
      }
    }
  }

  private failAll(err: Error): void {
    for (const w of this.proposalWaiters.values()) w.reject(err);
    this.proposalWaiters.clear();
    for (const p of this.pendingProposals) p.reject(err);
    this.pendingProposals = [];
    for (const w of this.readWaiters.values()) w.reject(err);
    this.readWaiters.clear();
    for (const r of this.readsAwaitingApply.splice(0)) r.reject(err);
  }
}

function hashSeed(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
