import { describe, type Trace, type TraceEvent } from './trace.ts';

/**
 * Which cluster configuration (Raft §6) was in force, as far as a trace can tell: the
 * checkers count majorities against it instead of a static server list.
 *
 * A server uses the latest configuration in its log, committed or not, and the trace does
 * not show a server's log. What it shows is each leader's `ConfChangeProposed` (the entry
 * appended, the configuration it makes) and `ConfChangeCommitted` (the cluster's from then
 * on). What the checkers can soundly use, for an event `e` at a server in term T:
 *
 * - `latestCommitted(e, T)`: the configuration of the highest-index `ConfChangeCommitted`
 *   that happened before `e` and was recorded by a leader of a term below T; before any,
 *   the initial configuration. A server whose log lacks it cannot lead term T at all
 *   (Leader Completeness), so any leader of term T holds it. (Only leaders of terms
 *   below T: `e` may follow a commit of a later term through a client, on a server that
 *   has not heard of that term and whose log need not hold the entry.)
 * - its successors: a server's log may also hold a later config entry that has not
 *   committed (or whose commit it has not heard of). Such an entry was proposed by a
 *   leader (`ConfChangeProposed`, before `e`, of a term below T) from the configuration
 *   before it (`oldVoters`). `possibleAt` follows that chain from `latestCommitted`.
 *
 * The configuration in force at the candidate is one of `possibleAt`'s; which one, the
 * trace cannot say. A check that must never fail a correct run asks for a majority of at
 * least one of them; with one change at a time these are `latestCommitted` and its next
 * step (the joint C_old,new after a plain one, C_new after a joint one), so that check is a
 * majority of the committed configuration, or of C_new once leaving the joint one was
 * proposed before `e`. Asking for a majority of every configuration proposed before `e`
 * would fail correct runs: an uncommitted entry may never have reached the candidate.
 *
 * The initial configuration: meta.json's `voters` (the voters before any change, when a
 * run lists servers that join later in `servers`), else its `servers`, else the
 * `oldVoters` of the first change in the log, else the servers that recorded ServerStart.
 */

export interface Configuration {
  /** C_new, or the only voters when not joint. */
  voters: string[];
  /** C_old while joint (C_old,new), else empty. */
  votersOutgoing: string[];
  /** Members that never vote or count. */
  learners: string[];
  /** Index and term of the config entry (0, 0 for the initial configuration). */
  index: number;
  term: number;
  /** The ConfChangeCommitted or ConfChangeProposed it comes from; null for the initial one. */
  event: TraceEvent | null;
  committed: boolean;
}

export type InitialSource = 'meta.json' | 'meta.json voters' | 'first change' | 'servers seen';

export class ConfigsInForce {
  readonly initial: Configuration;
  readonly initialSource: InitialSource;
  readonly committed: readonly TraceEvent[];
  readonly proposed: readonly TraceEvent[];
  private readonly leaderTerms = new Map<TraceEvent, number | null>();

  constructor(private readonly trace: Trace) {
    this.committed = trace.events({ tag: 'ConfChangeCommitted' });
    this.proposed = trace.events({ tag: 'ConfChangeProposed' });
    for (const host of trace.hosts()) {
      let term: number | null = null;
      for (const e of trace.hostEvents(host)) {
        if (e.tag === 'ServerStart') term = null;
        else if (e.tag === 'LeaderElected') term = Number(e.body.term);
        this.leaderTerms.set(e, term);
      }
    }
    const first = [...this.proposed].sort((a, b) => Number(a.body.index) - Number(b.body.index) || Number(a.body.term) - Number(b.body.term))[0];
    let voters: string[];
    if (trace.meta?.voters) [voters, this.initialSource] = [[...trace.meta.voters].sort(), 'meta.json voters'];
    else if (trace.meta?.servers) [voters, this.initialSource] = [[...trace.meta.servers].sort(), 'meta.json'];
    else if (first) [voters, this.initialSource] = [ids(first.body.oldVoters), 'first change'];
    else [voters, this.initialSource] = [[...new Set(trace.events({ tag: 'ServerStart' }).map((e) => e.host))].sort(), 'servers seen'];
    this.initial = { voters, votersOutgoing: [], learners: [], index: 0, term: 0, event: null, committed: true };
  }

  /**
   * The term `e`'s host led when it recorded `e`: that of its last LeaderElected in the
   * same life, or null when it had not been elected in that life.
   */
  leaderTermAt(e: TraceEvent): number | null {
    return this.leaderTerms.get(e) ?? null;
  }

  /**
   * The committed configuration every leader of a term `term` (or later) holds, as seen
   * from `e`: the highest-index ConfChangeCommitted → `e` recorded by a leader of a term
   * below `term` (`inclusive`: at most `term`), else the initial configuration.
   */
  latestCommitted(e: TraceEvent, term: number, opts: { inclusive?: boolean } = {}): Configuration {
    let best: TraceEvent | null = null;
    for (const c of this.committed) {
      const t = this.leaderTermAt(c);
      if (t === null || (opts.inclusive ? t > term : t >= term)) continue;
      if (c !== e && !this.trace.hb(c, e)) continue;
      if (best === null || Number(c.body.index) > Number(best.body.index)) best = c;
    }
    return best ? fromCommitted(best) : this.initial;
  }

  /**
   * Every configuration that could be in force at a server of term `term` when it
   * recorded `e` (see the top of this file): latestCommitted, then each config entry of a
   * term below `term` proposed (→ `e`) from one of those, at a higher index. The first is
   * latestCommitted.
   */
  possibleAt(e: TraceEvent, term: number): Configuration[] {
    const base = this.latestCommitted(e, term);
    const out = [base];
    const candidates = this.proposed.filter((p) => Number(p.body.term) < term && Number(p.body.index) > base.index && (p === e || this.trace.hb(p, e)));
    for (let k = 0; k < out.length; k++) {
      const from = out[k];
      for (const p of candidates) {
        if (Number(p.body.index) <= from.index || !sameSet(ids(p.body.oldVoters), from.voters)) continue;
        if (out.some((c) => c.event === p)) continue;
        out.push(fromProposed(p));
      }
    }
    return out;
  }

  /**
   * The configurations that could be in force at the leader of `term` when it was
   * elected (possibleAt its LeaderElected), or null when no LeaderElected names `term`.
   */
  forTerm(term: number): Configuration[] | null {
    const e = this.trace.events({ tag: 'LeaderElected', where: (l) => Number(l.body.term) === term })[0];
    return e ? this.possibleAt(e, term) : null;
  }

  /**
   * The configuration the log holds at `index` by the trace's commits: that of the
   * highest-index ConfChangeCommitted at or below `index` (from any leader), else the
   * initial configuration. It is the one in force at a server whose log is committed up
   * to `index` and holds no later config entry.
   */
  committedAt(index: number): Configuration {
    let best: TraceEvent | null = null;
    for (const c of this.committed) {
      const i = Number(c.body.index);
      if (i <= index && (best === null || i > Number(best.body.index))) best = c;
    }
    return best ? fromCommitted(best) : this.initial;
  }
}

/** The server ids in a body field (an array of strings), sorted. */
export function ids(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string').sort() : [];
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v) => b.includes(v));
}

export function isJointConf(c: Configuration): boolean {
  return c.votersOutgoing.length > 0;
}

/** `{server0,server1,server2}`. */
export function setText(voters: readonly string[]): string {
  return `{${[...voters].sort().join(',')}}`;
}

/** Where a configuration comes from, for messages: `the initial configuration (meta.json)`, `committed at index 7 (ConfChangeCommitted@server0:40 (line 123))`. */
export function originText(c: Configuration, source: InitialSource): string {
  if (c.event === null) return `the initial configuration (${INITIAL_TEXT[source]})`;
  return `${c.committed ? 'committed' : 'proposed'} at index ${c.index} (${describe(c.event)})`;
}

const INITIAL_TEXT: Record<InitialSource, string> = {
  'meta.json': 'meta.json servers',
  'meta.json voters': 'meta.json voters',
  'first change': "the first change's oldVoters",
  'servers seen': 'servers seen in the trace, no meta.json',
};

function fromCommitted(e: TraceEvent): Configuration {
  return { voters: ids(e.body.voters), votersOutgoing: ids(e.body.votersOutgoing), learners: ids(e.body.learners), index: Number(e.body.index), term: Number(e.body.term), event: e, committed: true };
}

function fromProposed(e: TraceEvent): Configuration {
  return { voters: ids(e.body.newVoters), votersOutgoing: ids(e.body.votersOutgoing), learners: ids(e.body.learners), index: Number(e.body.index), term: Number(e.body.term), event: e, committed: false };
}
