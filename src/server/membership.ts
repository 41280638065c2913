import { confOfVoters, decodeConfEntry, members, normalizeConf, type ConfChange } from '../raft/conf-change.ts';
import type { ConfState, Entry } from '../raft/types.ts';
import type { SnapshotMembership } from '../kv/snapshot-format.ts';
import type { ServerEntry } from './config.ts';

/**
 * How close a learner must be to the leader before it may become a voter, in entries:
 * its matchIndex (the leader's status().progress) within this many of the leader's last
 * index. Raft thesis §4.2.1 adds servers as non-voters until they have caught up, so that
 * a new voter does not hold up commits while it copies the log; 1,000 entries is a few
 * hundred ms of replication here, and what the core's PeerStatus.matchIndex suggests.
 */
export const PROMOTE_MARGIN_ENTRIES = 1000;

/**
 * What a ConfChange's `context` carries when the server proposes it (etcd puts the
 * member's attributes, its peer URLs, in ConfChange.Context the same way): the address
 * of the member being added, so that every replica learns it from the log (or from a
 * snapshot) and no side channel is needed. JSON `{"addr":"host:port"}`.
 */
export interface MemberContext {
  addr: string;
}

/** The JSON put in ConfChange.context for a member at `addr` (see MemberContext). */
export function encodeMemberContext(addr: string): string {
  return JSON.stringify({ addr } satisfies MemberContext);
}

/**
 * The address a ConfChange's context names, or null when it names none (a promotion or
 * removal carries no context; a change proposed by something else may carry anything).
 * Never throws: a context is opaque to Raft and a bad one must not stop a replica.
 */
export function memberAddrOf(change: ConfChange): string | null {
  if (change.context === undefined) return null;
  try {
    const v = JSON.parse(change.context) as unknown;
    if (typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>).addr === 'string') return (v as MemberContext).addr;
  } catch {
    // Not ours: no address.
  }
  return null;
}

/**
 * The server's view of the cluster's membership (Raft §6): the configuration its state
 * machine has applied (committed config entries, or the snapshot's), the address of every
 * member, and the ids removed so far. The core keeps its own configuration (the latest in
 * the log, committed or not) and decides elections and commitment with it; this object
 * answers what the core does not know: where each member listens, whether this server
 * was removed, and whether a sender was.
 *
 * Sources, in the order a server meets them: the founding voters (the config file's
 * servers, which no log entry records), then a snapshot's `membership`
 * (snapshot-format.ts), then the config entries of the log: their context holds the
 * address of an added member (encodeMemberContext), their data the configuration
 * (decodeConfEntry). Addresses are learned as soon as an entry is appended (a leader must
 * dial a learner before its entry commits); roles and removals only when applied.
 */
export class Membership {
  private readonly addrs = new Map<string, string>();
  private readonly removedAt = new Map<string, number>();
  private applied: ConfState;
  private appliedIndex = 0;

  /**
   * `founders`: the config file's servers, the cluster's first configuration (all voters).
   * A server that joined passes them too, and `known`: the addresses the member it asked
   * at join time listed (MemberList), so it can reach the cluster before its log says who
   * is in it.
   */
  constructor(
    readonly selfId: string,
    founders: readonly ServerEntry[],
    known: readonly ServerEntry[] = [],
  ) {
    for (const s of [...founders, ...known]) this.addrs.set(s.id, s.addr);
    this.applied = confOfVoters(founders.map((s) => s.id));
  }

  /** The configuration applied here (committed), and the index of the entry that set it (0: founding or snapshot's). */
  get conf(): ConfState {
    return this.applied;
  }

  /** Index of the config entry that set the applied configuration; the snapshot's index when it came from one; 0 for the founding voters. */
  get confIndex(): number {
    return this.appliedIndex;
  }

  /**
   * Takes a snapshot's membership (installed from the leader, or loaded at start); one
   * without (written before membership changes existed) leaves the founding configuration.
   * Throws Error on a malformed configuration.
   */
  restore(m: SnapshotMembership | undefined, index: number): void {
    if (!m) return;
    this.applied = normalizeConf(m.conf);
    this.appliedIndex = index;
    for (const [id, addr] of Object.entries(m.addrs)) this.addrs.set(id, addr);
    for (const [id, at] of Object.entries(m.removed)) this.removedAt.set(id, at);
  }

  /**
   * Learns the addresses that config entries being appended carry (before they commit: the
   * leader replicates to a new learner at once, and a follower that becomes leader must
   * know it too). A malformed entry is skipped: the codec and storage refuse those already.
   */
  noteAppended(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.kind !== 'config') continue;
      try {
        const { change } = decodeConfEntry(e.data);
        const addr = memberAddrOf(change);
        const added = change.changes.find((c) => c.type !== 'removeNode');
        if (addr !== null && added && !this.removedAt.has(added.nodeId)) this.addrs.set(added.nodeId, addr);
      } catch {
        // Refused elsewhere; nothing to learn.
      }
    }
  }

  /**
   * Applies one committed entry (only config entries change anything). Returns true when
   * this entry removed this server: it was a member of the configuration before and is not
   * in the one the entry puts in force (for a voter, the leave-joint entry C_new; thesis
   * §4.2.2). A server that joined is in no configuration before its own addition, so the
   * older config entries it applies never count as its removal.
   */
  apply(e: Entry): boolean {
    if (e.kind !== 'config') return false;
    this.noteAppended([e]);
    const { conf } = decodeConfEntry(e.data);
    const before = new Set(members(this.applied));
    const after = new Set(members(conf));
    for (const id of before) {
      if (after.has(id)) continue;
      this.removedAt.set(id, e.index);
      if (id !== this.selfId) this.addrs.delete(id);
    }
    this.applied = conf;
    this.appliedIndex = e.index;
    return before.has(this.selfId) && !after.has(this.selfId);
  }

  /** What a snapshot at the applied index records (snapshot-format.ts SnapshotMembership). */
  snapshot(): SnapshotMembership {
    const addrs: Record<string, string> = {};
    for (const id of members(this.applied)) {
      const a = this.addrs.get(id);
      if (a !== undefined) addrs[id] = a;
    }
    return { conf: this.applied, addrs, removed: Object.fromEntries(this.removedAt) };
  }

  /**
   * Records where `id` listens, learned outside the log: from a member's MemberList, for a
   * sender this server has not heard of yet (a member added while it lagged). A hint for
   * dialing only: roles still come from the configuration. Ignored for a removed id.
   */
  noteAddress(id: string, addr: string): void {
    if (!this.removedAt.has(id) && !this.addrs.has(id)) this.addrs.set(id, addr);
  }

  /** Where `id` listens, if known. */
  addrOf(id: string): string | undefined {
    return this.addrs.get(id);
  }

  /** Every id with a known address (members, members being added, and those a joiner was told about). */
  knownIds(): string[] {
    return [...this.addrs.keys()];
  }

  /** The index of the config entry that removed `id`, or undefined if it was never removed (as far as this server applied). */
  removedIndex(id: string): number | undefined {
    return this.removedAt.get(id);
  }

  /** `ids` with their addresses, those without one left out. */
  entriesOf(ids: Iterable<string>): ServerEntry[] {
    const out: ServerEntry[] = [];
    for (const id of ids) {
      const addr = this.addrs.get(id);
      if (addr !== undefined) out.push({ id, addr });
    }
    return out;
  }
}
