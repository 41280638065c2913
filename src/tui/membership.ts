import type { ServerEntry } from '../server/config.ts';
import type { WireAdminResult, WireMemberList } from '../transport/wire.ts';
import type { AdminAnswer, MemberAnswer, MembershipAdmin } from './deps.ts';

/**
 * Where the UI's membership calls go: an address book that starts with the configured
 * servers and learns every member a server reports, and a leader to send changes to.
 * No I/O of its own: `callsTo` gives the calls to one server (an AdminClient in run.ts,
 * a fake in the tests), so the routing (leader first, NOT_LEADER followed once) is the
 * same code in both.
 */

/** The admin calls to one server that membership needs (AdminClient has this shape). */
export interface MemberCalls {
  memberList(deadlineMs?: number): Promise<WireMemberList>;
  memberAdd(id: string, addr: string, learner: boolean, deadlineMs?: number): Promise<WireAdminResult>;
  memberPromote(id: string, deadlineMs?: number): Promise<WireAdminResult>;
  memberRemove(id: string, deadlineMs?: number): Promise<WireAdminResult>;
  transferLeader(target: string, deadlineMs?: number): Promise<WireAdminResult>;
}

/** Short: MemberList is asked on every poll, and a server that is slow to answer holds up the walk. */
const MEMBER_LIST_MS = 1000;

/** gRPC's DEADLINE_EXCEEDED: the request may have arrived, so a change may have happened. */
const DEADLINE_EXCEEDED = 4;

/**
 * The UI's MembershipAdmin, and its members(): the routing and the address book over the
 * servers' admin calls.
 */
export class Membership implements MembershipAdmin {
  /** id -> host:port, in the order servers are tried: the configured ones, then those learned. */
  private readonly book = new Map<string, string>();
  /** The leader the last answer named; changes go there first. */
  private leader: string | null = null;
  /** The members of the last answer: asked before servers no longer in it, whose view may be stale. */
  private current = new Set<string>();

  /**
   * `statusLeader`: the leader as the status polls see it, for when no MemberList answer
   * has named one (e.g. every server answers MemberList with an error).
   */
  constructor(
    servers: readonly ServerEntry[],
    private readonly callsTo: (id: string, addr: string) => MemberCalls,
    private readonly statusLeader: () => string | null = () => null,
  ) {
    for (const s of servers) this.book.set(s.id, s.addr);
  }

  /** The address of a configured or learned server. */
  addressOf(id: string): string | undefined {
    return this.book.get(id);
  }

  /** Every server known so far, configured or learned. */
  known(): ServerEntry[] {
    return [...this.book].map(([id, addr]) => ({ id, addr }));
  }

  /**
   * The configuration from the first server that answers: the last known leader first
   * (only it knows the members' match indexes), then the others in order.
   */
  async members(): Promise<MemberAnswer> {
    const order = this.order();
    let last: unknown = null;
    for (const id of order) {
      try {
        const list = await this.calls(id).memberList(MEMBER_LIST_MS);
        this.learn(list);
        return { ...list, from: id };
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`no server told its membership (${order.length} asked${last ? `; last: ${message(last)}` : ''})`);
  }

  add(id: string, addr: string, learner: boolean): Promise<AdminAnswer> {
    return this.change((c) => c.memberAdd(id, addr, learner));
  }

  promote(id: string): Promise<AdminAnswer> {
    return this.change((c) => c.memberPromote(id));
  }

  remove(id: string): Promise<AdminAnswer> {
    return this.change((c) => c.memberRemove(id));
  }

  transfer(target: string): Promise<AdminAnswer> {
    return this.change((c) => c.transferLeader(target));
  }

  /**
   * Sends a change to the leader as far as it is known (from the last membership answer,
   * else the status polls, else by asking for the membership), and once more to the leader a NOT_LEADER answer names. Once only: two servers
   * that each name another mean leadership is moving, and the user is better told than
   * left waiting while the UI chases it.
   */
  private async change(call: (c: MemberCalls) => Promise<WireAdminResult>): Promise<AdminAnswer> {
    const known = this.leader ?? this.statusLeader();
    let first = known !== null && this.book.has(known) ? known : null;
    if (first === null) {
      try {
        const list = await this.members();
        first = list.leaderId && this.book.has(list.leaderId) ? list.leaderId : list.from;
      } catch {
        // Nobody tells the membership (e.g. a server without it): the first server then
        // answers the change itself, with its own error.
        first = this.order()[0] ?? null;
      }
    }
    if (first === null) throw new Error('no server known to send the change to');
    const asked = [first];
    let result = await this.callOn(first, call);
    const named = result.leaderId;
    if (!result.ok && result.code === 'NOT_LEADER' && named && named !== first && this.book.has(named)) {
      asked.push(named);
      result = await this.callOn(named, call);
    }
    if (result.members) this.learn(result.members);
    else if (result.leaderId) this.leader = result.leaderId;
    return { result, asked };
  }

  private async callOn(id: string, call: (c: MemberCalls) => Promise<WireAdminResult>): Promise<WireAdminResult> {
    try {
      return await call(this.calls(id));
    } catch (err) {
      const maybe = (err as { code?: number }).code === DEADLINE_EXCEEDED ? '; it may or may not have taken effect (members shows)' : '';
      throw new Error(`${id} did not answer: ${message(err)}${maybe}`);
    }
  }

  private calls(id: string): MemberCalls {
    const addr = this.book.get(id);
    if (addr === undefined) throw new Error(`the address of ${id} is unknown`);
    return this.callsTo(id, addr);
  }

  /**
   * The known leader, then the other members of the last answer, then everyone else known
   * (a removed server may still answer, with the configuration it last saw).
   */
  private order(): string[] {
    const ids = [...this.book.keys()];
    const first = this.leader !== null && this.book.has(this.leader) ? [this.leader] : [];
    const rest = ids.filter((id) => id !== this.leader);
    return [...first, ...rest.filter((id) => this.current.has(id)), ...rest.filter((id) => !this.current.has(id))];
  }

  /** Records the members' addresses (a member added later becomes reachable) and the leader. */
  private learn(list: WireMemberList): void {
    for (const m of list.members) if (m.addr) this.book.set(m.id, m.addr);
    if (list.members.length > 0) this.current = new Set(list.members.map((m) => m.id));
    this.leader = list.leaderId || null;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}
