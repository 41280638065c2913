import type { OpOutcome } from '../../src/client/kv-client.ts';
import { ClientError } from '../../src/client/kv-client.ts';
import type { ClientOp } from '../../src/kv/command.ts';
import type { ServerEntry } from '../../src/server/config.ts';
import type { WireAdminResult, WireMemberList, WireStatus } from '../../src/transport/wire.ts';
import { Controller } from '../../src/tui/controller.ts';
import type { ClusterControl, ControllerDeps, KvOps } from '../../src/tui/deps.ts';
import { Membership, type MemberCalls } from '../../src/tui/membership.ts';

export const SERVERS: ServerEntry[] = ['server0', 'server1', 'server2'].map((id, i) => ({ id, addr: `127.0.0.1:${7100 + i}` }));

interface FakeMember {
  id: string;
  addr: string;
  learner: boolean;
  outgoing: boolean;
}

/**
 * An in-memory cluster: a leader, a key-value map, processes that only change a flag, and
 * a configuration that the fake admin calls change (on the leader; the others answer
 * NOT_LEADER, as real servers do).
 */
export class FakeCluster implements ClusterControl {
  readonly states = new Map<string, 'up' | 'down' | 'paused'>();
  leader = 'server1';
  term = 2;
  commit = 5;
  blocked = new Map<string, string[]>();
  readonly calls: string[] = [];
  failNext: string | null = null;
  /** The configuration. */
  members: FakeMember[];
  joint = false;
  confIndex = 1;
  /** Members' match indexes on the leader (default: the commit index). */
  readonly match = new Map<string, number>();
  /** Servers this UI did not start (joined later), by whether they run. */
  readonly others = new Map<string, 'up' | 'down'>();
  /** Every admin call, as "<server asked> <method> <argument>". */
  readonly adminCalls: string[] = [];
  /** The leader's next change is refused with this. */
  refuseNext: { code: string; error: string } | null = null;
  /** A follower here names the leader given instead of the real one (it has not heard of the new one). */
  readonly staleLeader = new Map<string, string>();
  /** Servers answer MemberList with UNIMPLEMENTED (servers from before membership). */
  noMemberList = false;
  /** MemberList answers wait for this, with the configuration as it was when asked (a slow answer). */
  memberListGate: Promise<void> | null = null;
  /** Changes wait for this before the leader answers (a change still committing). */
  changeGate: Promise<void> | null = null;

  constructor(readonly servers: ServerEntry[] = SERVERS) {
    for (const s of servers) this.states.set(s.id, 'up');
    this.members = servers.map((s) => ({ id: s.id, addr: s.addr, learner: false, outgoing: false }));
  }

  get ids(): string[] {
    return this.servers.map((s) => s.id);
  }
  state(id: string) {
    return this.states.get(id)!;
  }
  pid(id: string) {
    return this.state(id) === 'down' ? undefined : 1000 + this.ids.indexOf(id);
  }
  private check(what: string) {
    this.calls.push(what);
    if (this.failNext) {
      const msg = this.failNext;
      this.failNext = null;
      throw new Error(msg);
    }
  }
  async kill(id: string) {
    this.check(`kill ${id}`);
    this.states.set(id, 'down');
    if (id === this.leader) this.elect();
  }
  async restart(id: string) {
    this.check(`restart ${id}`);
    this.states.set(id, 'up');
  }
  pause(id: string) {
    this.check(`pause ${id}`);
    this.states.set(id, 'paused');
  }
  resume(id: string) {
    this.check(`resume ${id}`);
    this.states.set(id, 'up');
  }
  async partition(groups: string[][]) {
    this.check(`partition ${JSON.stringify(groups)}`);
    const [alone, rest] = groups;
    this.blocked.set(alone[0], rest);
    for (const r of rest) this.blocked.set(r, alone);
  }
  async heal() {
    this.check('heal');
    this.blocked.clear();
  }
  /** The next live server leads, one term later. */
  elect() {
    const next = this.ids.find((id) => this.state(id) === 'up');
    this.leader = next ?? '';
    this.term++;
  }
  /** A started process's state, or whether a server that joined later runs. */
  private running(id: string): boolean {
    return (this.states.get(id) ?? this.others.get(id)) === 'up';
  }
  status(id: string): WireStatus {
    if (!this.running(id)) throw new Error(`${id} does not answer`);
    return {
      serverId: id,
      role: id === this.leader ? 'leader' : 'follower',
      term: this.term,
      leaderId: this.leader,
      commitIndex: this.commit,
      appliedIndex: this.commit,
      lastLogIndex: this.commit,
      peers: this.ids.filter((p) => p !== id).map((p) => ({ id: p, addr: '', matchIndex: 0, nextIndex: 0, blocked: (this.blocked.get(id) ?? []).includes(p) })),
      lastContactMs: id === this.leader ? 0 : 42,
      pid: this.states.has(id) ? this.pid(id)! : 4242,
      loopStallMs: 0,
      loopStallWorstMs: 0,
      snapshotIndex: 0,
      firstLogIndex: 1,
      logBytes: 2048,
      rssBytes: 64 * 1024 * 1024,
      heapUsedBytes: 16 * 1024 * 1024,
    };
  }

  /** The configuration as `id` tells it: only the leader knows match indexes. */
  memberList(id: string): WireMemberList {
    const leads = id === this.leader;
    return {
      members: this.members.map((m) => ({ ...m, matchIndex: leads ? (this.match.get(m.id) ?? this.commit) : 0 })),
      leaderId: leads ? this.leader : (this.staleLeader.get(id) ?? this.leader),
      term: this.term,
      joint: this.joint,
      confIndex: this.confIndex,
      lastIndex: this.commit,
    };
  }

  /** The admin calls to one server, as an AdminClient would make them. */
  adminOf(id: string): MemberCalls {
    const answer = (what: string) => {
      this.adminCalls.push(`${id} ${what}`);
      if (!this.running(id)) throw Object.assign(new Error(`14 UNAVAILABLE: ${id} does not answer`), { code: 14 });
    };
    const onLeader = async (what: string, change: () => WireAdminResult): Promise<WireAdminResult> => {
      answer(what);
      if (!this.leader) return { ok: false, code: 'NO_LEADER', error: 'no leader: an election is under way', leaderId: '', members: null };
      if (id !== this.leader) return { ok: false, code: 'NOT_LEADER', error: `${id} is not the leader`, leaderId: this.staleLeader.get(id) ?? this.leader, members: null };
      if (this.changeGate) await this.changeGate;
      const refuse = this.refuseNext;
      this.refuseNext = null;
      if (refuse) return { ok: false, code: refuse.code, error: refuse.error, leaderId: this.leader, members: null };
      return change();
    };
    return {
      memberList: async () => {
        answer('memberList');
        if (this.noMemberList) throw Object.assign(new Error('12 UNIMPLEMENTED: The server does not implement the method MemberList'), { code: 12 });
        const list = this.memberList(id);
        if (this.memberListGate) await this.memberListGate;
        return list;
      },
      memberAdd: (sid, addr, learner) =>
        onLeader(`memberAdd ${sid}${learner ? ' --learner' : ''}`, () => {
          if (this.member(sid)) return this.invalid(`${sid} is already a member`);
          this.members.push({ id: sid, addr, learner: true, outgoing: false });
          this.match.set(sid, 0);
          return this.changed();
        }),
      memberPromote: (sid) =>
        onLeader(`memberPromote ${sid}`, () => {
          const m = this.member(sid);
          if (!m) return this.invalid(`${sid} is not a member`);
          if (!m.learner) return this.invalid(`${sid} is already a voter`);
          const match = this.match.get(sid) ?? this.commit;
          if (match < this.commit) return this.invalid(`${sid} has not caught up (match ${match} of ${this.commit})`);
          m.learner = false;
          return this.changed();
        }),
      memberRemove: (sid) =>
        onLeader(`memberRemove ${sid}`, () => {
          if (!this.member(sid)) return this.invalid(`${sid} is not a member`);
          this.members = this.members.filter((m) => m.id !== sid);
          if (sid === this.leader) {
            this.leader = this.members.find((m) => !m.learner && this.running(m.id))?.id ?? '';
            this.term++;
          }
          return this.changed();
        }),
      transferLeader: (target) =>
        onLeader(`transferLeader ${target}`, () => {
          const to = target || this.members.find((m) => !m.learner && m.id !== this.leader && this.running(m.id))?.id;
          const m = to ? this.member(to) : undefined;
          if (!to || !m || m.learner) return this.invalid(`${to || 'no voter'} cannot lead`);
          this.leader = to;
          this.term++;
          return { ok: true, code: '', error: '', leaderId: to, members: this.memberList(to) };
        }),
    };
  }
  private member(id: string): FakeMember | undefined {
    return this.members.find((m) => m.id === id);
  }
  private invalid(error: string): WireAdminResult {
    return { ok: false, code: 'INVALID', error, leaderId: this.leader, members: null };
  }
  /** A change committed: a new entry, the configuration's index. */
  private changed(): WireAdminResult {
    this.commit++;
    this.confIndex = this.commit;
    return { ok: true, code: '', error: '', leaderId: this.leader, members: this.memberList(this.leader) };
  }
}

/** A KV client over a Map; `gate` holds operations until released. */
export class FakeKv implements KvOps {
  readonly data = new Map<string, string>();
  opId = 0;
  stopped = false;
  gate: Promise<void> | null = null;
  constructor(private readonly cluster: FakeCluster) {}

  async execute(op: ClientOp): Promise<OpOutcome> {
    const opId = ++this.opId;
    if (this.gate) await this.gate;
    const base = { opId, op: op.type, key: 'key' in op ? op.key : '', latencyMs: 3.25, servedBy: this.cluster.leader };
    switch (op.type) {
      case 'get':
        return { ...base, value: this.data.get(op.key) ?? '' };
      case 'put':
        this.data.set(op.key, op.value);
        return { ...base, value: op.value };
      case 'delete': {
        const v = this.data.get(op.key) ?? '';
        this.data.delete(op.key);
        return { ...base, value: v };
      }
      case 'incr': {
        const cur = this.data.get(op.key) ?? '0';
        if (!/^-?\d+$/.test(cur)) throw new ClientError(`incr: the value of "${op.key}" is not a base-10 integer`, { ...base, value: '', failed: true, error: 'x' });
        const v = String(Number(cur) + 1);
        this.data.set(op.key, v);
        return { ...base, value: v };
      }
      case 'expire':
        return { ...base, value: this.data.has(op.key) ? '1' : '0' };
      case 'mget':
        return { ...base, value: '', values: op.keys.map((k) => this.data.get(k) ?? '') };
      case 'mput':
        for (const p of op.pairs) this.data.set(p.key, p.value);
        return { ...base, value: String(op.pairs.length) };
    }
  }
  async stop() {
    this.stopped = true;
  }
}

export interface Fixture {
  cluster: FakeCluster;
  kv: FakeKv;
  controller: Controller;
  /** The real routing (leader first, NOT_LEADER followed once) over the fake servers. */
  membership: Membership;
  quits: number;
}

/** A controller over the fakes; `launched: false` gives an attached one (no cluster control). */
export function fixture(opts: { launched?: boolean; connect?: ControllerDeps['connect'] } = {}): Fixture {
  const cluster = new FakeCluster();
  const kv = new FakeKv(cluster);
  // As run.ts does: the status polls' leader is the fallback hint.
  const membership = new Membership(SERVERS, (id) => cluster.adminOf(id), () => f.controller.getSnapshot().leader?.id ?? null);
  const f: Fixture = { cluster, kv, controller: null as unknown as Controller, membership, quits: 0 };
  f.controller = new Controller({
    servers: SERVERS,
    cluster: opts.launched === false ? null : cluster,
    connect: opts.connect ?? (async () => kv),
    // As run.ts does: a server is asked at the address the membership gave for it.
    status: async (id) => {
      if (membership.addressOf(id) === undefined) throw new Error(`the address of ${id} is unknown`);
      return cluster.status(id);
    },
    members: () => membership.members(),
    admin: () => membership,
    trace: async () => ({ dir: 'traces/tui-test', addr: '127.0.0.1:7200', clientId: 'tui-1' }),
    configPath: 'data/cluster.json',
    onQuit: () => f.quits++,
  });
  return f;
}

/** Polls `cond` every 10 ms until it holds; fails after `timeoutMs` with `what`. */
export async function waitFor(cond: () => boolean, what: string | (() => string), timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Whether a process with this pid still exists (signal 0 only checks). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
