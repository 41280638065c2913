import { decodeConfEntry } from '../../src/raft/conf-change.ts';
import type { ConfState, Entry, HardState, Ready, Snapshot } from '../../src/raft/types.ts';
import type { Raft } from '../../src/raft/raft.ts';
import type { RaftTrace } from '../../tracing/raft-trace.ts';

/**
 * What survives a crash: the persisted snapshot, log and hard state; and the applied
 * state machine (kv, appliedIndex, appliedTerm, digest). By default the state machine
 * survives too (one that persists each apply); with the cluster's volatileStateMachine
 * a restart rebuilds it from the snapshot and the log instead, as the real server does.
 */
export interface DurableState {
  hardState: HardState;
  /** The log: entries from just after `snapshot` (or from 1), or a tail kept below it. */
  entries: Entry[];
  /** The latest snapshot taken here or installed from a leader; null before the first. */
  snapshot: Snapshot | null;
  appliedIndex: number;
  /** Term of the entry at appliedIndex (0 for none): what a snapshot taken now records. */
  appliedTerm: number;
  /** The replicated key-value map the tests read: commands are "key=value". */
  kv: Map<string, string>;
  /**
   * The configuration as of appliedIndex: the last config entry applied, or the
   * snapshot's, or the node's first one (SimNode.baseConf). What a snapshot taken now
   * records (SnapshotMeta.conf), as a server's state machine would. Optional for
   * callers outside the simulator that build one by hand (a SimNode always sets it).
   */
  conf?: ConfState;
  /**
   * A running hash of every entry applied (index, term, kind, data), 1..appliedIndex:
   * two state machines at one index with equal digests applied the same commands.
   */
  digest: string;
  /** Set when the node rejoined empty (SimCluster.rejoinEmpty): RaftConfig.catchUpIndex. */
  catchUpIndex?: number;
}

/** What a SimNode's snapshot data holds: the map and the digest at the snapshot's index. */
interface SnapshotState {
  kv: [string, string][];
  digest: string;
}

export function encodeSnapshotData(kv: Map<string, string>, digest: string): Uint8Array {
  const state: SnapshotState = { kv: [...kv], digest };
  return new TextEncoder().encode(JSON.stringify(state));
}

export function decodeSnapshotData(data: Uint8Array): { kv: Map<string, string>; digest: string } {
  const state = JSON.parse(new TextDecoder().decode(data)) as SnapshotState;
  return { kv: new Map(state.kv), digest: state.digest };
}

/** The last index the durable log (with its snapshot) holds. */
export function durableLastIndex(d: DurableState): number {
  return Math.max(d.entries.at(-1)?.index ?? 0, d.snapshot?.index ?? 0);
}

/** The term the durable log holds at `index` (0 at index 0), or undefined when it holds none. */
export function durableTerm(d: DurableState, index: number): number | undefined {
  if (index === 0) return 0;
  const first = d.entries[0]?.index;
  if (first !== undefined && index >= first && index < first + d.entries.length) return d.entries[index - first].term;
  if (d.snapshot && index === d.snapshot.index) return d.snapshot.term;
  return undefined;
}

/** Whether the durable log holds the entry `index` of `term`, in its entries or under its snapshot. */
export function durableHolds(d: DurableState, index: number, term: number): boolean {
  if (d.snapshot && index <= d.snapshot.index) return index < d.snapshot.index || d.snapshot.term === term;
  return durableTerm(d, index) === term;
}

const EMPTY_DIGEST = '0';

/** One simulated server: durable state always, a Raft instance only while it is up. */
export class SimNode {
  /**
   * Set when the node joined a running cluster (SimCluster.addNode): it started with an
   * empty log and the empty configuration, and learns the membership from the leader.
   */
  joined = false;
  raft: Raft | null = null;
  /** This life's Raft tracing, when the cluster traces: the core's actions and Apply. */
  trace: RaftTrace | null = null;
  /** A Ready whose persistence is still under way (the write is lost on crash). */
  persisting: Ready | null = null;
  /** Bumped on every crash so events scheduled for an earlier life are ignored. */
  life = 0;
  readonly durable: DurableState;

  /** `baseConf`: the configuration before any entry (the cluster's first voters, or the empty one of a joining node). */
  constructor(
    readonly id: string,
    readonly baseConf: ConfState,
  ) {
    this.durable = {
      hardState: { term: 0, votedFor: null, commitIndex: 0 },
      entries: [],
      snapshot: null,
      appliedIndex: 0,
      appliedTerm: 0,
      kv: new Map(),
      digest: EMPTY_DIGEST,
      conf: baseConf,
    };
  }

  get up(): boolean {
    return this.raft !== null;
  }

  /**
   * The first half of persisting a Ready's snapshot: the snapshot is durable and the
   * state machine restored from it, but the log it replaces is still on disk.
   */
  writeSnapshot(snapshot: Snapshot): void {
    this.durable.snapshot = snapshot;
    this.restore(snapshot);
  }

  /**
   * What the storage does when it loads: a log that does not connect to the snapshot
   * (it holds the snapshot's index with another term, or ends below it) predates an
   * installed snapshot whose write was cut short before the log was discarded: none of
   * it is committed past the snapshot, so it goes.
   */
  load(): void {
    const d = this.durable;
    if (!d.snapshot || d.entries.length === 0) return;
    const first = d.entries[0].index;
    const atSnapshot = d.entries[d.snapshot.index - first];
    const connects = first === d.snapshot.index + 1 || (atSnapshot !== undefined && atSnapshot.term === d.snapshot.term);
    if (!connects) d.entries = [];
  }

  /** Writes a Ready's snapshot (unless writeSnapshot did) and discards the log, then its hard state and entries. */
  persist(rd: Ready): void {
    const d = this.durable;
    if (rd.snapshot) {
      if (d.snapshot !== rd.snapshot) this.writeSnapshot(rd.snapshot);
      d.entries = [];
    }
    if (rd.hardState) d.hardState = { ...rd.hardState };
    if (rd.entries.length > 0) {
      const first = rd.entries[0].index;
      if (first > durableLastIndex(d) + 1) throw new Error(`${this.id}: entries from ${first} leave a gap after ${durableLastIndex(d)}`);
      d.entries = d.entries.filter((e) => e.index < first);
      for (const e of rd.entries) d.entries.push({ ...e });
    }
  }

  /** The state machine is rebuilt from the snapshot and the log (the server replays it at start). */
  resetKv(): void {
    this.restore(this.durable.snapshot);
  }

  applyToKv(e: Entry): void {
    const d = this.durable;
    if (e.kind === 'command') {
      const eq = e.data.indexOf('=');
      if (eq > 0) d.kv.set(e.data.slice(0, eq), e.data.slice(eq + 1));
    }
    // A server applies a config entry as etcd's ApplyConfChange: the membership from here on.
    if (e.kind === 'config') d.conf = decodeConfEntry(e.data).conf;
    d.appliedIndex = e.index;
    d.appliedTerm = e.term;
    d.digest = hash(`${d.digest}|${e.index}:${e.term}:${e.kind}:${e.data}`);
  }

  /** A snapshot of the state machine as applied now. */
  snapshotNow(): Snapshot {
    const d = this.durable;
    return { index: d.appliedIndex, term: d.appliedTerm, data: encodeSnapshotData(d.kv, d.digest), conf: d.conf ?? this.baseConf };
  }

  /** Replaces the state machine with a snapshot's (or an empty one's, for null). */
  restore(snapshot: Snapshot | null): void {
    const d = this.durable;
    const state = snapshot ? decodeSnapshotData(snapshot.data) : { kv: new Map<string, string>(), digest: EMPTY_DIGEST };
    d.kv = state.kv;
    d.digest = state.digest;
    d.conf = snapshot?.conf ?? this.baseConf;
    d.appliedIndex = snapshot?.index ?? 0;
    d.appliedTerm = snapshot?.term ?? 0;
  }
}

/** cyrb53: a 53-bit string hash, plenty to tell apart the histories of one test. */
function hash(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}
