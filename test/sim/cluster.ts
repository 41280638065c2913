import { applyConfChange, confOfVoters, isJoint, LEAVE_JOINT, type ConfChangeSingle } from '../../src/raft/conf-change.ts';
import { estimateEntrySize, type EntrySize } from '../../src/raft/log.ts';
import { jointVote } from '../../src/raft/quorum.ts';
import { Raft, type ProposeResult } from '../../src/raft/raft.ts';
import { seededRng, type Rng } from '../../src/raft/rng.ts';
import type { ConfState, Message, Ready, Snapshot } from '../../src/raft/types.ts';
import { RaftTrace } from '../../tracing/raft-trace.ts';
import { MemorySink } from '../../tracing/record.ts';
import { Tracer } from '../../tracing/tracer.ts';
import { EventQueue } from './event-queue.ts';
import { Invariants } from './invariants.ts';
import { SimNetwork } from './network.ts';
import { decodeSnapshotData, durableLastIndex, SimNode } from './node.ts';

export interface SimOptions {
  seed: number;
  size: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Virtual ms per tick. */
  tickMs?: number;
  /** Virtual ms a persist takes, uniform in [min, max]; [0, 0] persists at once. */
  persistDelay?: [number, number];
  preVote?: boolean;
  checkQuorum?: boolean;
  maxEntriesPerMessage?: number;
  /** Byte bounds of replication (RaftConfig); the invariants check messages and windows against them. */
  maxSizePerMsg?: number;
  maxInflightBytes?: number;
  entrySize?: EntrySize;
  trace?: boolean;
  /**
   * Log compaction: a node snapshots its state machine once it has applied this many
   * entries past its last snapshot, and compacts its log (memory and disk) to the
   * snapshot's index less `keepTail`. 0: never.
   */
  snapshotEvery?: number;
  /** Entries kept below a snapshot for followers that lag a little. */
  keepTail?: number;
  /**
   * The state machine lives in memory only: a restart rebuilds it from the node's
   * snapshot and replays the log after it (the real server's way). Otherwise it survives
   * a crash as applied.
   */
  volatileStateMachine?: boolean;
  /** Extra virtual ms an InstallSnapshot takes to arrive, uniform in [min, max] (a large transfer). */
  snapshotTransfer?: [number, number];
  /**
   * After every step, also check that the node uses the latest configuration in its log
   * (Invariants.confInForce). It scans the log back to its last config entry, so it is
   * for the membership tests, whose logs are short.
   */
  checkConf?: boolean;
}

type SimEvent =
  | { kind: 'tick'; id: string; life: number }
  | { kind: 'deliver'; m: Message; senderLife: number }
  | { kind: 'persisted'; id: string; life: number; rd: Ready }
  | { kind: 'snapshotStatus'; id: string; life: number; to: string; ok: boolean };

export interface ReadResult {
  ctx: string;
  node: string;
  key: string;
  value?: string;
  error?: string;
}

/**
 * An in-process cluster on a virtual clock: a seeded network that drops, delays,
 * reorders, duplicates and partitions; nodes that crash keeping only what they
 * persisted; Raft's safety invariants checked after every step.
 */
export class SimCluster {
  /** Every node ever started, in order: the founders, then those added (addNode); removed ones stay. */
  readonly ids: string[];
  /** The founders' configuration: every node's base (RaftConfig.peers). */
  readonly initialConf: ConfState;
  readonly nodes = new Map<string, SimNode>();
  readonly net: SimNetwork;
  readonly invariants = new Invariants();
  readonly sink = new MemorySink();
  readonly sent = new Map<string, number>();
  readonly reads = new Map<string, ReadResult>();
  /** Snapshots taken by each node, and InstallSnapshots each node installed (wrote to disk). */
  readonly snapshotsTaken = new Map<string, number>();
  readonly snapshotsInstalled = new Map<string, number>();
  now = 0;
  private readonly rng: Rng;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly tracers = new Map<string, Tracer>();
  private readonly pendingReads = new Map<string, { ctx: string; index: number; key: string }[]>();
  private readonly opts: Required<SimOptions>;
  private watchers: ((m: Message, now: number) => void)[] = [];

  constructor(options: SimOptions) {
    this.opts = {
      electionTick: 10,
      heartbeatTick: 1,
      tickMs: 10,
      persistDelay: [0, 0],
      preVote: true,
      checkQuorum: true,
      maxEntriesPerMessage: 256,
      maxSizePerMsg: 1024 * 1024,
      maxInflightBytes: 16 * 1024 * 1024,
      entrySize: estimateEntrySize,
      trace: false,
      snapshotEvery: 0,
      keepTail: 0,
      volatileStateMachine: false,
      snapshotTransfer: [0, 0],
      checkConf: false,
      ...options,
    };
    this.invariants.limits = { maxSizePerMsg: this.opts.maxSizePerMsg, maxInflightBytes: this.opts.maxInflightBytes, entrySize: this.opts.entrySize };
    this.rng = seededRng(options.seed);
    this.net = new SimNetwork(seededRng(options.seed ^ 0x5eed));
    this.ids = Array.from({ length: options.size }, (_, i) => `server${i}`);
    this.initialConf = confOfVoters(this.ids);
    this.invariants.initialConf = this.initialConf;
    this.invariants.checkConf = this.opts.checkConf;
    for (const id of this.ids) {
      this.nodes.set(id, new SimNode(id, this.initialConf));
      this.start(id);
    }
  }

  /**
   * Starts a new server with an empty log, to join the cluster: it is no member until a
   * config entry names it (addLearnerNode, then addNode to promote it). It knows the
   * founders' configuration, as a server reads it from its configuration file. Returns its id.
   */
  addNode(id = `server${this.ids.length}`): string {
    if (this.nodes.has(id)) throw new Error(`${id} exists already`);
    const node = new SimNode(id, this.initialConf);
    node.joined = true;
    this.nodes.set(id, node);
    this.ids.push(id);
    this.start(id);
    return id;
  }

  // ------------------------------------------------------------ time

  /** Runs every event due in the next `ms` virtual milliseconds. */
  run(ms: number): void {
    this.runEvents(this.now + ms, () => false);
  }

  /** Runs until `cond` holds, checked after every event; throws after `maxMs`. */
  runUntil(cond: () => boolean, maxMs: number, what: string): void {
    if (cond()) return;
    if (!this.runEvents(this.now + maxMs, cond)) throw new Error(`timed out after ${maxMs} virtual ms waiting for ${what}`);
  }

  private runEvents(until: number, stop: () => boolean): boolean {
    for (let t = this.queue.peekTime(); t !== undefined && t <= until; t = this.queue.peekTime()) {
      const { at, item } = this.queue.pop()!;
      this.now = at;
      this.handle(item);
      if (stop()) return true;
    }
    this.now = until;
    return false;
  }

  private handle(ev: SimEvent): void {
    switch (ev.kind) {
      case 'tick': {
        const node = this.nodes.get(ev.id)!;
        if (node.life !== ev.life || !node.raft) return;
        node.raft.tick();
        this.pump(node);
        this.checkLeader(node);
        this.checkConf(node);
        this.queue.push(this.now + this.opts.tickMs, ev);
        return;
      }
      case 'deliver': {
        const node = this.nodes.get(ev.m.to)!;
        const arrives = node.raft !== null && this.net.connected(ev.m.from, ev.m.to);
        // The transport knows whether a snapshot stream got through, and tells the sender.
        if (ev.m.type === 'InstallSnapshot') this.snapshotStatus(ev.m.from, ev.senderLife, ev.m.to, arrives);
        if (!arrives) return;
        node.raft!.step(ev.m);
        this.pump(node);
        this.checkLeader(node);
        this.checkConf(node);
        return;
      }
      case 'snapshotStatus': {
        const node = this.nodes.get(ev.id)!;
        if (node.life !== ev.life || !node.raft) return;
        node.raft.reportSnapshot(ev.to, ev.ok);
        this.pump(node);
        this.checkLeader(node);
        return;
      }
      case 'persisted': {
        const node = this.nodes.get(ev.id)!;
        if (node.life !== ev.life) return;
        this.finishPersist(node, ev.rd);
        this.pump(node);
        this.checkLeader(node);
        return;
      }
    }
  }

  /** After every step of a leader: what it committed is durable on a majority; its windows keep their bounds. */
  private checkLeader(node: SimNode): void {
    if (!node.raft || node.raft.softState().role !== 'leader') return;
    this.invariants.leaderCommitted(node.id, node.raft, (id) => this.nodes.get(id)?.durable);
  }

  private checkConf(node: SimNode): void {
    if (this.opts.checkConf && node.raft) this.invariants.confInForce(node.id, node.raft, node.baseConf);
  }

  // ------------------------------------------------------------ the Ready loop

  private pump(node: SimNode): void {
    for (let guard = 0; guard < 10_000 && node.raft && !node.persisting; guard++) {
      const rd = node.raft.ready();
      if (!rd) return;
      if (rd.softState.role === 'leader') this.invariants.leader(rd.softState.term, node.id, node.raft);
      for (const m of rd.messages) this.send(node, m);
      for (const e of rd.committedEntries) {
        const lastApplied = node.durable.appliedIndex;
        node.applyToKv(e);
        this.invariants.apply(node.id, lastApplied, e, node.durable.digest);
        node.trace?.apply(e);
      }
      this.maybeCompact(node);
      for (const rs of rd.readStates) this.readAnswered(node, rs);
      this.serveReads(node);
      // A snapshot is written before the log it replaces is discarded: a crash during the
      // persist leaves the new snapshot beside the old log.
      if (rd.snapshot) this.writeSnapshot(node, rd.snapshot);
      const [lo, hi] = this.opts.persistDelay;
      if (hi > 0 && rd.mustSync) {
        node.persisting = rd;
        this.queue.push(this.now + this.rng.int(lo, hi + 1), { kind: 'persisted', id: node.id, life: node.life, rd });
        return;
      }
      this.finishPersist(node, rd);
    }
  }

  /** Takes a snapshot and compacts the log once enough entries were applied since the last one. */
  private maybeCompact(node: SimNode): void {
    const every = this.opts.snapshotEvery;
    const d = node.durable;
    if (every <= 0 || d.appliedIndex - (d.snapshot?.index ?? 0) < every) return;
    const snap = node.snapshotNow();
    this.invariants.snapshot(node.id, snap, d.digest, 'took');
    d.snapshot = snap;
    const to = snap.index - this.opts.keepTail;
    d.entries = d.entries.filter((e) => e.index > to);
    node.raft!.compact(to);
    this.snapshotsTaken.set(node.id, (this.snapshotsTaken.get(node.id) ?? 0) + 1);
  }

  private writeSnapshot(node: SimNode, snap: Snapshot): void {
    node.writeSnapshot(snap);
    this.invariants.snapshot(node.id, snap, decodeSnapshotData(snap.data).digest, 'installed');
    this.snapshotsInstalled.set(node.id, (this.snapshotsInstalled.get(node.id) ?? 0) + 1);
  }

  private finishPersist(node: SimNode, rd: Ready): void {
    node.persist(rd);
    this.invariants.persisted(node.id, rd.entries, node.durable);
    node.persisting = null;
    for (const m of node.raft!.advance(rd)) this.send(node, m);
  }

  private send(node: SimNode, m: Message): void {
    this.invariants.sent(m, node.durable);
    for (const w of this.watchers) w(m, this.now);
    const kind = m.type === 'RequestVote' && m.preVote ? 'PreVote' : m.type;
    this.sent.set(kind, (this.sent.get(kind) ?? 0) + 1);
    const fate = this.net.fate(m.from, m.to);
    if (m.type === 'InstallSnapshot') {
      const [lo, hi] = this.opts.snapshotTransfer;
      for (let k = 0; k < fate.length; k++) fate[k] += this.rng.int(lo, hi + 1);
      // A lost stream fails at the sender after its deadline.
      if (fate.length === 0) this.queue.push(this.now + this.net.faults.maxDelay + hi, { kind: 'snapshotStatus', id: node.id, life: node.life, to: m.to, ok: false });
    }
    for (const delay of fate) this.queue.push(this.now + delay, { kind: 'deliver', m, senderLife: node.life });
  }

  private snapshotStatus(from: string, life: number, to: string, ok: boolean): void {
    this.queue.push(this.now, { kind: 'snapshotStatus', id: from, life, to, ok });
  }

  // ------------------------------------------------------------ failures

  private start(id: string): void {
    const node = this.nodes.get(id)!;
    let tracer: Tracer | undefined;
    if (this.opts.trace) {
      // A restarted node continues its clock, as the tracing server lets a process do.
      tracer = this.tracers.get(id) ?? new Tracer(id, this.sink);
      this.tracers.set(id, tracer);
    }
    node.life++;
    node.trace = tracer ? new RaftTrace(tracer, false) : null;
    const d = node.durable;
    node.load();
    // A state machine in memory starts again from the snapshot, and the core hands out the log after it.
    if (this.opts.volatileStateMachine) node.restore(d.snapshot);
    node.raft = new Raft({
      id,
      peers: [...this.initialConf.voters],
      electionTick: this.opts.electionTick,
      heartbeatTick: this.opts.heartbeatTick,
      rng: seededRng(this.rng.int(0, 2 ** 31)),
      hardState: d.hardState,
      entries: d.entries,
      ...(d.snapshot ? { snapshot: { index: d.snapshot.index, term: d.snapshot.term, ...(d.snapshot.conf ? { conf: d.snapshot.conf } : {}) } } : {}),
      latestSnapshot: (): Snapshot | null => d.snapshot,
      appliedIndex: d.appliedIndex,
      preVote: this.opts.preVote,
      checkQuorum: this.opts.checkQuorum,
      maxEntriesPerMessage: this.opts.maxEntriesPerMessage,
      maxSizePerMsg: this.opts.maxSizePerMsg,
      maxInflightBytes: this.opts.maxInflightBytes,
      entrySize: this.opts.entrySize,
      // Every start is a new life, as the server's storage counts its opens.
      incarnation: node.life,
      catchUpIndex: node.durable.catchUpIndex,
      traceLogger: node.trace ?? undefined,
    });
    this.queue.push(this.now + this.rng.int(1, this.opts.tickMs + 1), { kind: 'tick', id, life: node.life });
    this.pump(node);
  }

  /** Stops a node at once: unpersisted writes and in-flight reads are lost. */
  crash(id: string): void {
    const node = this.nodes.get(id)!;
    node.raft = null;
    node.persisting = null;
    node.life++;
    this.pendingReads.delete(id);
  }

  restart(id: string): void {
    if (this.nodes.get(id)!.up) throw new Error(`${id} is already up`);
    this.start(id);
  }

  /**
   * Damages a down node's disk: its log keeps only the entries up to index `keep`, as if
   * the file were cut, and nothing notices (a store without a watermark); a snapshot, a
   * file of its own, survives. Its state machine is rebuilt from the snapshot and the log
   * on restart, as the server's is.
   */
  loseLogTail(id: string, keep: number): void {
    const node = this.nodes.get(id)!;
    if (node.up) throw new Error(`${id} must be down to lose its log`);
    const d = node.durable;
    d.entries = d.entries.filter((e) => e.index <= keep);
    const floor = d.snapshot?.index ?? 0;
    d.hardState = { ...d.hardState, commitIndex: Math.max(floor, Math.min(d.hardState.commitIndex, keep)) };
    node.resetKv();
  }

  /**
   * What `raftkv node --rejoin-empty` makes of a down node whose log was damaged: an
   * empty log (and no snapshot), term and vote kept, and no votes until its log reaches
   * what it had.
   */
  rejoinEmpty(id: string): void {
    const node = this.nodes.get(id)!;
    if (node.up) throw new Error(`${id} must be down to rejoin empty`);
    const d = node.durable;
    d.catchUpIndex = Math.max(d.catchUpIndex ?? 0, durableLastIndex(d), d.hardState.commitIndex);
    d.entries = [];
    d.snapshot = null;
    d.hardState = { ...d.hardState, commitIndex: 0 };
    node.resetKv();
  }

  isolate(id: string): void {
    this.net.isolate(id, this.ids);
  }

  reconnect(id: string): void {
    this.net.reconnect(id, this.ids);
  }

  // ------------------------------------------------------------ observation

  raft(id: string): Raft {
    const r = this.nodes.get(id)!.raft;
    if (!r) throw new Error(`${id} is down`);
    return r;
  }

  upIds(): string[] {
    return this.ids.filter((id) => this.nodes.get(id)!.up);
  }

  /** Up nodes that believe they lead, with their terms. */
  leaders(): { id: string; term: number }[] {
    return this.upIds()
      .map((id) => ({ id, ...this.raft(id).softState() }))
      .filter((s) => s.role === 'leader')
      .map(({ id, term }) => ({ id, term }));
  }

  /** Waits for a leader that a connected majority follows; returns its id. */
  waitForLeader(maxMs = 5_000): string {
    let found: string | null = null;
    this.runUntil(
      () => {
        found = this.stableLeader();
        return found !== null;
      },
      maxMs,
      'a leader',
    );
    return found!;
  }

  /**
   * The highest-term leader, if a majority (itself included) of the voters of its
   * configuration (of each half, while joint) is up, connected and follows it.
   */
  stableLeader(): string | null {
    const ls = this.leaders().sort((a, b) => b.term - a.term);
    if (ls.length === 0) return null;
    const { id, term } = ls[0];
    const following = new Map<string, boolean>();
    for (const p of this.upIds()) {
      const s = this.raft(p).softState();
      if (this.net.linked(id, p) && s.term === term && s.leaderId === id) following.set(p, true);
    }
    return jointVote(this.raft(id).confState(), following) === 'won' ? id : null;
  }

  // ------------------------------------------------------------ membership

  /** The configuration in force at `id` (the latest in its log). */
  confOf(id: string): ConfState {
    return this.raft(id).confState();
  }

  /** Proposes a membership change on the current leader; its refusal (or that there is no leader) otherwise. */
  proposeConfChange(changes: ConfChangeSingle[]): (ProposeResult & { leader?: string }) {
    for (const { id } of this.leaders().sort((a, b) => b.term - a.term)) {
      const res = this.raft(id).proposeConfChange({ changes });
      this.pump(this.nodes.get(id)!);
      return { ...res, leader: id };
    }
    return { ok: false, leaderId: null, reason: 'no leader' };
  }

  /**
   * Makes a membership change and waits until it is complete: proposed on whoever leads
   * (again after a refusal or a lost entry), and its final configuration (C_new, after
   * leaving the joint one) committed at a leader. Returns that configuration.
   */
  changeConf(changes: ConfChangeSingle[], maxMs = 10_000): ConfState {
    const deadline = this.now + maxMs;
    let target: ConfState | null = null;
    while (this.now < deadline) {
      if (target !== null && this.confCommitted(target)) return target;
      // Not proposed yet, or lost with every log that held it: propose (again) on whoever leads.
      if (target === null || !this.confPending(target)) {
        const leader = this.stableLeader();
        if (leader) {
          const before = this.confOf(leader);
          const res = this.raft(leader).proposeConfChange({ changes });
          this.pump(this.nodes.get(leader)!);
          if (res.ok) {
            const next = applyConfChange(before, { changes });
            target = isJoint(next) ? applyConfChange(next, LEAVE_JOINT) : next;
          }
        }
      }
      this.run(10);
    }
    throw new Error(`the change ${JSON.stringify(changes)} did not complete within ${maxMs} virtual ms`);
  }

  /**
   * Waits until the leader's progress shows `id` within `slack` entries of the leader's
   * last index: what a server checks before promoting a learner. Returns the leader.
   */
  waitCaughtUp(id: string, slack = 0, maxMs = 10_000): string {
    let leader: string | null = null;
    this.runUntil(
      () => {
        leader = this.stableLeader();
        if (!leader) return false;
        const st = this.raft(leader).status();
        const pr = st.progress?.[id];
        return pr !== undefined && pr.matchIndex >= st.lastIndex - slack;
      },
      maxMs,
      `${id} to catch up`,
    );
    return leader!;
  }

  /** Whether some leader has `conf` in force and committed. */
  confCommitted(conf: ConfState): boolean {
    return this.leaders().some(({ id }) => {
      const st = this.raft(id).status();
      return sameConf(st.conf, conf) && st.confIndex <= st.commitIndex;
    });
  }

  /** Whether some up node's log leads to `conf` (the change is still on its way). */
  private confPending(conf: ConfState): boolean {
    return this.upIds().some((id) => sameConf(this.confOf(id), conf) || (isJoint(this.confOf(id)) && sameConf(applyConfChange(this.confOf(id), LEAVE_JOINT), conf)));
  }

  /** How many up nodes have applied `index`, and the command they applied there. */
  nCommitted(index: number): { count: number; data: string | null } {
    const e = this.invariants.committedEntries().get(index);
    const count = this.ids.filter((id) => this.nodes.get(id)!.durable.appliedIndex >= index).length;
    return { count, data: e ? e.data : null };
  }

  /** Proposes on the current leader; null when there is none. */
  propose(data: string, traceId?: string): { index: number; term: number; leader: string } | null {
    for (const { id } of this.leaders().sort((a, b) => b.term - a.term)) {
      const res = this.raft(id).propose([{ data, traceId }]);
      this.pump(this.nodes.get(id)!);
      if (res.ok) return { index: res.index, term: res.term, leader: id };
    }
    return null;
  }

  /**
   * The 6.824 `one()` helper: keep proposing `data` on whoever leads until at least
   * `expected` nodes have applied it; returns its index.
   */
  one(data: string, expected: number, maxMs = 10_000): number {
    const deadline = this.now + maxMs;
    while (this.now < deadline) {
      const p = this.propose(data);
      if (p) {
        const stop = Math.min(deadline, this.now + 2_000);
        while (this.now < stop) {
          const { count, data: at } = this.nCommitted(p.index);
          if (count >= expected && at === data) return p.index;
          if (at !== null && at !== data) break;
          this.run(5);
        }
      } else {
        this.run(50);
      }
    }
    throw new Error(`one(${data}) failed to reach agreement on ${expected} nodes within ${maxMs} virtual ms`);
  }

  /** A linearizable read of `key` through `id`; the result lands in `reads` under ctx. */
  read(id: string, ctx: string, key: string): void {
    const node = this.nodes.get(id)!;
    this.reads.set(ctx, { ctx, node: id, key });
    this.raft(id).readIndex(ctx);
    this.pump(node);
  }

  private readAnswered(node: SimNode, rs: { ctx: string; index?: number; error?: string }): void {
    const r = this.reads.get(rs.ctx);
    if (!r) return;
    if ('error' in rs && rs.error) {
      r.error = rs.error;
      return;
    }
    const list = this.pendingReads.get(node.id) ?? [];
    list.push({ ctx: rs.ctx, index: rs.index!, key: r.key });
    this.pendingReads.set(node.id, list);
  }

  /** A read at index i is answered once the node has applied i. */
  private serveReads(node: SimNode): void {
    const list = this.pendingReads.get(node.id);
    if (!list) return;
    const keep = list.filter((p) => {
      if (node.durable.appliedIndex < p.index) return true;
      this.reads.get(p.ctx)!.value = node.durable.kv.get(p.key) ?? '';
      return false;
    });
    this.pendingReads.set(node.id, keep);
  }

  /** Calls `fn` with every message any node sends, whether or not it arrives; returns an unwatch. */
  watch(fn: (m: Message, now: number) => void): () => void {
    this.watchers.push(fn);
    return () => {
      this.watchers = this.watchers.filter((w) => w !== fn);
    };
  }

  messageCount(): number {
    let n = 0;
    for (const c of this.sent.values()) n += c;
    return n;
  }
}

function sameConf(a: ConfState, b: ConfState): boolean {
  const same = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v) => y.includes(v));
  return same(a.voters, b.voters) && same(a.learners, b.learners) && same(a.votersOutgoing, b.votersOutgoing);
}
