import type { WireStatus } from '../transport/wire.ts';
import type { MemberAnswer } from './deps.ts';

/**
 * The state the screen shows, as immutable snapshots, and the listeners to tell when it
 * changes (the subscribe/getSnapshot pair React's useSyncExternalStore expects).
 */

export type Liveness = 'up' | 'down' | 'paused' | 'no answer' | 'starting';

export interface ServerRow {
  id: string;
  addr: string;
  liveness: Liveness;
  /** The last status it answered with; null if it never did since it (re)started. */
  status: WireStatus | null;
  /** This status is from the latest poll. */
  fresh: boolean;
  /** The peers this server drops messages from. */
  blocked: string[];
  /** Its place in the configuration; absent while no server has told the membership. */
  member?: MemberInfo;
}

/** A row's place in the configuration (Raft §6). */
export interface MemberInfo {
  /** removed: a configured server the configuration no longer lists. */
  kind: 'voter' | 'learner' | 'removed';
  /** A voter of C_old while the configuration is joint. */
  outgoing: boolean;
  /** How far its log matches the leader's, when the leader told (else null). */
  matchIndex: number | null;
  /** A learner's matchIndex as a percentage of the leader's last index, when the leader told. */
  progress: number | null;
}

type ResultKind = 'op' | 'info' | 'error';

export interface ResultEntry {
  seq: number;
  kind: ResultKind;
  /** The command as typed. */
  input: string;
  pending: boolean;
  opId?: number;
  value?: string;
  /** mget: the keys and their values. */
  pairs?: { key: string; value: string }[];
  servedBy?: string;
  latencyMs?: number;
  /** info or error text (may hold several lines). */
  message?: string;
}

export interface Snapshot {
  rows: ServerRow[];
  results: ResultEntry[];
  view: 'main' | 'help';
  launched: boolean;
  /** The agreed leader (highest term among those claiming it), if any. */
  leader: { id: string; term: number } | null;
  /** The last membership a server told; null until one does (rows then follow the config). */
  members: MemberAnswer | null;
}

/** The results pane keeps this many entries; older ones drop off the top. */
const MAX_RESULTS = 200;

export class StateStore {
  private snap: Snapshot;
  private readonly listeners = new Set<() => void>();
  private seq = 0;

  constructor(initial: Snapshot) {
    this.snap = initial;
  }

  /** Registers a listener called after every change; returns its unsubscribe. */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The current snapshot: the same object until something changes. */
  getSnapshot = (): Snapshot => this.snap;

  update(patch: Partial<Snapshot>): void {
    this.snap = { ...this.snap, ...patch };
    for (const l of this.listeners) l();
  }

  /** Appends a result with the next sequence number and returns it. */
  add(fields: Omit<ResultEntry, 'seq'>): ResultEntry {
    const entry: ResultEntry = { seq: ++this.seq, ...fields };
    const results = [...this.snap.results, entry];
    this.update({ results: results.length > MAX_RESULTS ? results.slice(-MAX_RESULTS) : results });
    return entry;
  }

  /** Changes the fields of the result numbered `seq` (e.g. a pending one that finished). */
  replace(seq: number, fields: Partial<ResultEntry>): void {
    this.update({ results: this.snap.results.map((e) => (e.seq === seq ? { ...e, ...fields } : e)) });
  }

  setLiveness(id: string, liveness: Liveness): void {
    this.update({ rows: this.snap.rows.map((r) => (r.id === id ? { ...r, liveness } : r)) });
  }
}
