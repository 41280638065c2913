import type { Entry, HardState, Ready } from '../../src/raft/types.ts';
import type { Raft } from '../../src/raft/raft.ts';
import type { RaftTrace } from '../../tracing/raft-trace.ts';

/** What survives a crash: the persisted log and hard state, and the applied state machine. */
export interface DurableState {
  hardState: HardState;
  entries: Entry[];
  appliedIndex: number;
  /** The replicated key-value map the tests read: commands are "key=value". */
  kv: Map<string, string>;
  /** Set when the node rejoined empty (SimCluster.rejoinEmpty): RaftConfig.catchUpIndex. */
  catchUpIndex?: number;
}

/** One simulated server: durable state always, a Raft instance only while it is up. */
export class SimNode {
  raft: Raft | null = null;
  /** This life's Raft tracing, when the cluster traces: the core's actions and Apply. */
  trace: RaftTrace | null = null;
  /** A Ready whose persistence is still under way (the write is lost on crash). */
  persisting: Ready | null = null;
  /** Bumped on every crash so events scheduled for an earlier life are ignored. */
  life = 0;
  readonly durable: DurableState = {
    hardState: { term: 0, votedFor: null, commitIndex: 0 },
    entries: [],
    appliedIndex: 0,
    kv: new Map(),
  };

  constructor(readonly id: string) {}

  get up(): boolean {
    return this.raft !== null;
  }

  persist(rd: Ready): void {
    if (rd.hardState) this.durable.hardState = { ...rd.hardState };
    if (rd.entries.length > 0) {
      this.durable.entries.length = rd.entries[0].index - 1;
      for (const e of rd.entries) this.durable.entries.push({ ...e });
    }
  }

  /** The state machine is rebuilt from the log (the server replays it at start). */
  resetKv(): void {
    this.durable.appliedIndex = 0;
    this.durable.kv = new Map();
  }

  applyToKv(e: Entry): void {
    if (e.kind === 'command') {
      const eq = e.data.indexOf('=');
      if (eq > 0) this.durable.kv.set(e.data.slice(0, eq), e.data.slice(eq + 1));
    }
    this.durable.appliedIndex = e.index;
  }
}
