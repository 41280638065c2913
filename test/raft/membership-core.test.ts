import { describe, expect, it } from 'vitest';
import { decodeConfEntry, EMPTY_CONF } from '../../src/raft/conf-change.ts';
import { Raft, type RaftConfig } from '../../src/raft/raft.ts';
import { seededRng } from '../../src/raft/rng.ts';
import type { AppendEntriesRes, ConfState, Entry, InstallSnapshot, Message, Ready, RequestVote, Snapshot } from '../../src/raft/types.ts';

/**
 * The core's membership changes and leadership transfer, node by node: exact messages in,
 * exact state out. The simulated-network tests (membership.test.ts, transfer.test.ts)
 * check the same under faults.
 */

const make = (id: string, peers: string[], extra: Partial<RaftConfig> = {}) =>
  new Raft({ id, peers, electionTick: 10, heartbeatTick: 1, rng: seededRng(id.charCodeAt(0)), preVote: false, ...extra });

/** Instant delivery between hand-built nodes, with cut links; every Ready persisted at once. */
class Net {
  readonly nodes = new Map<string, Raft>();
  private readonly cut = new Set<string>();
  readonly log: Message[] = [];
  readonly readies = new Map<string, Ready[]>();

  constructor(...rafts: Raft[]) {
    for (const r of rafts) this.nodes.set(r.id, r);
  }

  get(id: string): Raft {
    return this.nodes.get(id)!;
  }

  cutLink(a: string, b: string): void {
    this.cut.add(`${a}>${b}`).add(`${b}>${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Drains every node's Readies and delivers what they send until nothing moves. */
  settle(): void {
    for (let round = 0; round < 1000; round++) {
      const out: Message[] = [];
      for (const r of this.nodes.values()) {
        for (let rd = r.ready(); rd; rd = r.ready()) {
          this.readies.set(r.id, [...(this.readies.get(r.id) ?? []), rd]);
          out.push(...rd.messages, ...r.advance(rd));
        }
      }
      if (out.length === 0) return;
      for (const m of out) {
        this.log.push(m);
        if (!this.cut.has(`${m.from}>${m.to}`)) this.nodes.get(m.to)?.step(m);
      }
    }
    throw new Error('the network did not settle');
  }

  /** Elects `id` (a campaign without pre-vote) and lets everything settle. */
  elect(id: string): Raft {
    this.get(id).campaignNow();
    this.settle();
    expect(this.get(id).softState().role).toBe('leader');
    return this.get(id);
  }

  sent(filter: (m: Message) => boolean): Message[] {
    return this.log.filter(filter);
  }
}

const conf = (voters: string[], learners: string[] = [], votersOutgoing: string[] = []): ConfState => ({ voters, learners, votersOutgoing });
const sortedConf = (c: ConfState) => ({ voters: [...c.voters].sort(), learners: [...c.learners].sort(), votersOutgoing: [...c.votersOutgoing].sort() });

/** Leader a of {a,b,c} with learners d and e (given the founders' list too, as joining nodes are). */
function withLearners(): Net {
  const peers = ['a', 'b', 'c'];
  const net = new Net(...['a', 'b', 'c', 'd', 'e'].map((id) => make(id, peers)));
  const a = net.elect('a');
  expect(a.proposeConfChange({ changes: [{ type: 'addLearnerNode', nodeId: 'd' }, { type: 'addLearnerNode', nodeId: 'e' }] })).toMatchObject({ ok: true });
  net.settle();
  expect(net.get('d').confState()).toEqual(conf(['a', 'b', 'c'], ['d', 'e']));
  return net;
}

const ack = (from: string, to: string, term: number, matchIndex: number, prevLogIndex: number): AppendEntriesRes => ({
  type: 'AppendEntriesRes',
  from,
  to,
  term,
  success: true,
  matchIndex,
  prevLogIndex,
  conflictIndex: 0,
  conflictTerm: 0,
  readSeq: 0,
});

describe('a configuration is in force from the moment it is in the log', () => {
  it('the leader switches when it proposes, a follower when it appends, and each Ready says so once', () => {
    const net = new Net(make('a', ['a', 'b', 'c']), make('b', ['a', 'b', 'c']), make('c', ['a', 'b', 'c']));
    const a = net.elect('a');
    net.cutLink('a', 'c');
    const res = a.proposeConfChange({ changes: [{ type: 'addNode', nodeId: 'd' }] });
    expect(res).toMatchObject({ ok: true, index: 2, term: 1 });
    // Not committed yet, already in force: the joint configuration.
    expect(a.confState()).toEqual(conf(['a', 'b', 'c', 'd'], [], ['a', 'b', 'c']));
    expect(a.status()).toMatchObject({ confIndex: 2, commitIndex: 1 });
    const seen = net.readies.get('a')!.length;
    net.settle();
    const rd = net.readies.get('a')![seen];
    expect(rd.confState).toEqual(conf(['a', 'b', 'c', 'd'], [], ['a', 'b', 'c']));
    expect(rd.entries).toMatchObject([{ index: 2, kind: 'config' }]);
    expect(decodeConfEntry(rd.entries[0].data)).toEqual({ change: { changes: [{ type: 'addNode', nodeId: 'd' }] }, conf: conf(['a', 'b', 'c', 'd'], [], ['a', 'b', 'c']) });
    expect(net.readies.get('a')!.slice(seen + 1).every((r) => r.confState === null)).toBe(true);
    // b appended it; c, cut off, did not. (C_new {a,b,c,d} has no majority without c or d: still joint.)
    expect(net.get('b').confState()).toEqual(conf(['a', 'b', 'c', 'd'], [], ['a', 'b', 'c']));
    expect(net.get('c').confState()).toEqual(conf(['a', 'b', 'c']));
    expect(net.readies.get('b')!.filter((r) => r.confState !== null)).toHaveLength(1);
    expect(a.status().commitIndex).toBe(1);
    // No change, no report.
    a.tick();
    net.settle();
    expect(net.readies.get('a')!.at(-1)!.confState).toBeNull();
  });

  it('a restarted node uses the latest config entry of its log, else its snapshot’s configuration, else its peers', () => {
    const joint = conf(['a', 'b', 'd'], [], ['a', 'b', 'c']);
    const entries: Entry[] = [
      { index: 1, term: 1, kind: 'noop', data: '' },
      { index: 2, term: 1, kind: 'config', data: JSON.stringify({ change: { changes: [{ type: 'addNode', nodeId: 'd' }, { type: 'removeNode', nodeId: 'c' }] }, conf: joint }) },
      { index: 3, term: 1, kind: 'command', data: 'x=1' },
    ];
    expect(make('a', ['a', 'b', 'c'], { entries }).confState()).toEqual(joint);
    expect(make('a', ['a', 'b', 'c'], { entries }).status().confIndex).toBe(2);
    const snapConf = conf(['a', 'b'], ['z']);
    const latestSnapshot = (): Snapshot => ({ index: 3, term: 1, data: new Uint8Array() });
    // The log after the snapshot holds no config entry: the snapshot's configuration.
    expect(make('a', ['a', 'b', 'c'], { snapshot: { index: 3, term: 1, conf: snapConf }, latestSnapshot }).confState()).toEqual(snapConf);
    // It holds one: that one.
    expect(make('a', ['a', 'b', 'c'], { entries: entries.slice(1), snapshot: { index: 1, term: 1, conf: snapConf }, latestSnapshot }).confState()).toEqual(joint);
    expect(make('a', ['a', 'b', 'c']).confState()).toEqual(conf(['a', 'b', 'c']));
    // A node joining a running cluster: the founders' list without itself, or nothing at all.
    expect(make('d', ['a', 'b', 'c']).confState()).toEqual(conf(['a', 'b', 'c']));
    expect(make('d', []).confState()).toEqual(EMPTY_CONF);
    expect(() => make('a', ['a'], { entries: [{ index: 1, term: 1, kind: 'config', data: '{' }] })).toThrow(/malformed/);
  });

  it('a config entry truncated by a newer leader is undone, and the Ready says so', () => {
    const b = make('b', ['a', 'b', 'c']);
    const joint = conf(['a', 'b', 'c', 'd'], [], ['a', 'b', 'c']);
    const cfg: Entry = { index: 2, term: 1, kind: 'config', data: JSON.stringify({ change: { changes: [{ type: 'addNode', nodeId: 'd' }] }, conf: joint }) };
    b.step({ type: 'AppendEntries', from: 'a', to: 'b', term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [{ index: 1, term: 1, kind: 'noop', data: '' }, cfg], leaderCommit: 1, readSeq: 0 });
    expect(b.confState()).toEqual(joint);
    let rd = b.ready()!;
    expect(rd.confState).toEqual(joint);
    b.advance(rd);
    // c leads term 2 without entry 2: its own entry there replaces it.
    b.step({ type: 'AppendEntries', from: 'c', to: 'b', term: 2, prevLogIndex: 1, prevLogTerm: 1, entries: [{ index: 2, term: 2, kind: 'noop', data: '' }], leaderCommit: 1, readSeq: 0 });
    expect(b.confState()).toEqual(conf(['a', 'b', 'c']));
    expect(b.status().confIndex).toBe(0);
    rd = b.ready()!;
    expect(rd.confState).toEqual(conf(['a', 'b', 'c']));
  });
});

describe('proposing a change', () => {
  it('one at a time: refused while the entry is uncommitted and while joint, accepted once complete', () => {
    const net = new Net(make('a', ['a', 'b', 'c']), make('b', ['a', 'b', 'c']), make('c', ['a', 'b', 'c']));
    const a = net.elect('a');
    net.cutLink('a', 'b');
    net.cutLink('a', 'c');
    expect(a.proposeConfChange({ changes: [{ type: 'addLearnerNode', nodeId: 'd' }] })).toMatchObject({ ok: true, index: 2 });
    expect(a.proposeConfChange({ changes: [{ type: 'addLearnerNode', nodeId: 'e' }] })).toEqual({ ok: false, leaderId: 'a', reason: 'the configuration change at index 2 is not committed yet: one change at a time' });
    net.heal();
    a.tick();
    net.settle();
    expect(a.status().commitIndex).toBe(2);
    // A voter change: joint first, then the leader leaves it on its own once it commits.
    net.cutLink('a', 'b');
    net.cutLink('a', 'c');
    expect(a.proposeConfChange({ changes: [{ type: 'addNode', nodeId: 'd' }] })).toMatchObject({ ok: true, index: 3 });
    expect(a.proposeConfChange({ changes: [{ type: 'removeNode', nodeId: 'd' }] })).toMatchObject({ ok: false, reason: /index 3 is not committed yet/ });
    net.heal();
    a.tick();
    net.settle();
    // d is a node of this test's network only by name: b and c make the majorities of C_old and C_new.
    const leave = a.log.slice(4, 4)[0];
    expect(leave.kind).toBe('config');
    expect(decodeConfEntry(leave.data)).toEqual({ change: { changes: [] }, conf: conf(['a', 'b', 'c', 'd']) });
    expect(a.status()).toMatchObject({ confIndex: 4, commitIndex: 4 });
    expect(a.proposeConfChange({ changes: [{ type: 'removeNode', nodeId: 'd' }] })).toMatchObject({ ok: true, index: 5 });
  });

  it('refused on a follower, before the leader committed an entry of its term, and for a change that does not apply', () => {
    const net = new Net(make('a', ['a', 'b', 'c']), make('b', ['a', 'b', 'c']), make('c', ['a', 'b', 'c']));
    expect(net.get('b').proposeConfChange({ changes: [{ type: 'addNode', nodeId: 'd' }] })).toMatchObject({ ok: false, leaderId: null, reason: /not the leader/ });
    const a = net.get('a');
    a.campaignNow();
    a.advance(a.ready()!);
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: true, preVote: false });
    expect(a.softState().role).toBe('leader');
    // Its no-op is not committed yet (thesis §4.1's single-server fix, kept for joint changes too).
    expect(a.proposeConfChange({ changes: [{ type: 'addNode', nodeId: 'd' }] })).toMatchObject({ ok: false, leaderId: 'a', reason: /not committed an entry of its term/ });
    net.settle();
    expect(a.proposeConfChange({ changes: [{ type: 'removeNode', nodeId: 'z' }] })).toEqual({ ok: false, leaderId: 'a', reason: 'z is not a member' });
    expect(a.proposeConfChange({ changes: [{ type: 'addLearnerNode', nodeId: 'b' }] })).toMatchObject({ ok: false, reason: /demoting is not supported/ });
    expect(a.proposeConfChange({ changes: [] })).toMatchObject({ ok: false, reason: /no changes/ });
    expect(a.status().lastIndex).toBe(1);
  });
});

describe('joint consensus: majorities of C_old and of C_new (Raft §6)', () => {
  it('while joint, an entry commits only with a majority of each: neither half alone will do', () => {
    const net = withLearners();
    const a = net.get('a');
    // C_old {a,b,c} -> C_new {a,d,e}.
    a.proposeConfChange({
      changes: [
        { type: 'addNode', nodeId: 'd' },
        { type: 'addNode', nodeId: 'e' },
        { type: 'removeNode', nodeId: 'b' },
        { type: 'removeNode', nodeId: 'c' },
      ],
    });
    expect(sortedConf(a.confState())).toEqual(sortedConf(conf(['a', 'd', 'e'], [], ['a', 'b', 'c'])));
    // Nobody hears the leader: acknowledgements are stepped in by hand.
    for (const id of ['b', 'c', 'd', 'e']) net.cutLink('a', id);
    net.settle();
    const joint = a.status().lastIndex;
    const base = a.status().commitIndex;
    // d and e: a majority of C_new (with a), none of C_old beyond a.
    a.step(ack('d', 'a', 1, joint, base));
    a.step(ack('e', 'a', 1, joint, base));
    expect(a.status().commitIndex).toBe(base);
    // b: now C_old has a and b too.
    a.step(ack('b', 'a', 1, joint, base));
    expect(a.status().commitIndex).toBe(joint);
    // And the leader left the joint configuration on its own: C_new, in force at once.
    expect(a.confState()).toEqual(conf(['a', 'd', 'e']));
    expect(a.status().confIndex).toBe(joint + 1);
  });

  it('while joint, an election needs a majority of each half', () => {
    const joint = conf(['a', 'd', 'e'], [], ['a', 'b', 'c']);
    const entries: Entry[] = [{ index: 1, term: 1, kind: 'config', data: JSON.stringify({ change: { changes: [] }, conf: joint }) }];
    const a = make('a', ['a', 'b', 'c'], { entries, hardState: { term: 1, votedFor: null, commitIndex: 0 } });
    a.campaignNow();
    const asked = a.advance(a.ready()!).filter((m): m is RequestVote => m.type === 'RequestVote').map((m) => m.to);
    expect(asked.sort()).toEqual(['b', 'c', 'd', 'e']);
    const grant = (from: string) => a.step({ type: 'RequestVoteRes', from, to: 'a', term: 2, voteGranted: true, preVote: false });
    grant('b');
    grant('c');
    expect(a.softState().role).toBe('candidate');
    grant('d');
    expect(a.softState().role).toBe('leader');
  });

  it('while joint, refusals from a majority of either half lose the election', () => {
    const joint = conf(['a', 'd', 'e'], [], ['a', 'b', 'c']);
    const entries: Entry[] = [{ index: 1, term: 1, kind: 'config', data: JSON.stringify({ change: { changes: [] }, conf: joint }) }];
    const a = make('a', ['a', 'b', 'c'], { entries, hardState: { term: 1, votedFor: null, commitIndex: 0 } });
    a.campaignNow();
    a.advance(a.ready()!);
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 2, voteGranted: true, preVote: false });
    a.step({ type: 'RequestVoteRes', from: 'c', to: 'a', term: 2, voteGranted: true, preVote: false });
    a.step({ type: 'RequestVoteRes', from: 'd', to: 'a', term: 2, voteGranted: false, preVote: false });
    expect(a.softState().role).toBe('candidate');
    a.step({ type: 'RequestVoteRes', from: 'e', to: 'a', term: 2, voteGranted: false, preVote: false });
    expect(a.softState().role).toBe('follower');
  });
});

describe('learners', () => {
  it('their acknowledgements never commit: leader + two learners is three of five nodes but one of three voters', () => {
    const net = withLearners();
    const a = net.get('a');
    for (const id of ['b', 'c', 'd', 'e']) net.cutLink('a', id);
    const p = a.propose([{ data: 'x=1' }]);
    if (!p.ok) throw new Error('propose refused');
    net.settle();
    const before = a.status().commitIndex;
    a.step(ack('d', 'a', 1, p.index, before));
    a.step(ack('e', 'a', 1, p.index, before));
    expect(a.status().commitIndex).toBe(before);
    a.step(ack('b', 'a', 1, p.index, before));
    expect(a.status().commitIndex).toBe(p.index);
  });

  it('their votes never elect, though they answer vote requests as any node does', () => {
    const net = withLearners();
    const c = net.get('c');
    // c campaigns in term 2 (a is cut off and out of the way).
    for (const id of ['b', 'c', 'd', 'e']) net.cutLink('a', id);
    c.campaignNow();
    const asked = c.advance(c.ready()!).filter((m) => m.type === 'RequestVote').map((m) => m.to);
    // Only voters are asked.
    expect(asked.sort()).toEqual(['a', 'b']);
    // A learner asked anyway (say, by a candidate whose configuration promoted it) answers,
    // once out of its leader's lease.
    const d = net.get('d');
    for (let i = 0; i < 10; i++) d.tick();
    d.step({ type: 'RequestVote', from: 'c', to: 'd', term: 2, lastLogIndex: c.status().lastIndex, lastLogTerm: c.status().lastTerm, preVote: false });
    const answer = d.advance(d.ready()!);
    expect(answer).toMatchObject([{ type: 'RequestVoteRes', voteGranted: true }]);
    c.step(answer[0]);
    c.step({ type: 'RequestVoteRes', from: 'e', to: 'c', term: 2, voteGranted: true, preVote: false });
    expect(c.softState().role).toBe('candidate');
    c.step({ type: 'RequestVoteRes', from: 'b', to: 'c', term: 2, voteGranted: true, preVote: false });
    expect(c.softState().role).toBe('leader');
  });

  it('they never campaign, and are replicated to like any follower (status shows them, marked)', () => {
    const net = withLearners();
    const d = net.get('d');
    for (let i = 0; i < 100; i++) d.tick();
    const rd = d.ready();
    if (rd) {
      expect(rd.messages).toEqual([]);
      expect(d.advance(rd)).toEqual([]);
    }
    expect(d.softState().role).toBe('follower');
    d.campaignNow();
    expect(d.softState().role).toBe('follower');
    const a = net.get('a');
    a.propose([{ data: 'y=2' }]);
    net.settle();
    // The commit reaches followers with the next heartbeat.
    a.tick();
    net.settle();
    const st = a.status();
    expect(st.progress!.d).toMatchObject({ matchIndex: st.lastIndex, learner: true });
    expect(st.progress!.b).toMatchObject({ matchIndex: st.lastIndex, learner: false });
    expect(d.status().commitIndex).toBe(st.lastIndex);
  });
});

describe('removing the leader', () => {
  it('it leads C_new without counting itself until C_new commits, then steps down and tells the others', () => {
    const net = new Net(make('a', ['a', 'b', 'c']), make('b', ['a', 'b', 'c']), make('c', ['a', 'b', 'c']));
    const a = net.elect('a');
    for (const id of ['b', 'c']) net.cutLink('a', id);
    const res = a.proposeConfChange({ changes: [{ type: 'removeNode', nodeId: 'a' }] });
    if (!res.ok) throw new Error(res.reason);
    net.settle();
    a.step(ack('b', 'a', 1, res.index, 1));
    // Joint {b,c} / {a,b,c}: a and b make C_old's majority, but C_new {b,c} needs both.
    expect(a.status().commitIndex).toBe(1);
    a.step(ack('c', 'a', 1, res.index, 1));
    expect(a.status().commitIndex).toBe(res.index);
    expect(a.confState()).toEqual(conf(['b', 'c']));
    expect(a.softState().role).toBe('leader');
    net.settle();
    const leave = res.index + 1;
    // C_new {b,c}: a's own copy does not count; b alone is not a majority.
    a.step(ack('b', 'a', 1, leave, res.index));
    expect(a.status().commitIndex).toBe(res.index);
    expect(a.softState().role).toBe('leader');
    a.step(ack('c', 'a', 1, leave, res.index));
    expect(a.status().commitIndex).toBe(leave);
    expect(a.softState()).toEqual({ role: 'follower', term: 1, leaderId: null });
    // On its way out it sent b and c the commit of C_new.
    const told = a.ready()!.messages.filter((m) => m.type === 'AppendEntries' && m.leaderCommit === leave).map((m) => m.to);
    expect(told.sort()).toEqual(['b', 'c']);
    // It never campaigns again.
    for (let i = 0; i < 100; i++) a.tick();
    expect(a.softState().role).toBe('follower');
  });
});

describe('snapshots carry the configuration', () => {
  it('the leader stamps the configuration at the snapshot’s index; the follower installs it and hands it out to persist', () => {
    let latest: Snapshot | null = null;
    const a = make('a', ['a', 'b', 'c'], { latestSnapshot: () => latest });
    const b = make('b', ['a', 'b', 'c']);
    const d = make('d', ['a', 'b', 'c']);
    const net = new Net(a, b, d);
    net.elect('a');
    a.proposeConfChange({ changes: [{ type: 'addLearnerNode', nodeId: 'd' }] });
    net.cutLink('a', 'd');
    a.propose([{ data: 'x=1' }]);
    net.settle();
    const st = a.status();
    expect(st.commitIndex).toBe(3);
    // The driver's snapshot says nothing of the configuration: the core knows it.
    latest = { index: 3, term: 1, data: new Uint8Array([1]) };
    a.compact(3);
    net.heal();
    a.tick();
    net.settle();
    const inst = net.sent((m) => m.type === 'InstallSnapshot') as InstallSnapshot[];
    expect(inst).toHaveLength(1);
    expect(inst[0].snapshot.conf).toEqual(conf(['a', 'b', 'c'], ['d']));
    expect(d.confState()).toEqual(conf(['a', 'b', 'c'], ['d']));
    const installed = net.readies.get('d')!.find((r) => r.snapshot !== null)!;
    expect(installed.snapshot!.conf).toEqual(conf(['a', 'b', 'c'], ['d']));
    expect(installed.confState).toEqual(conf(['a', 'b', 'c'], ['d']));
    // Compaction keeps the configuration in force at the log's start.
    expect(a.confState()).toEqual(conf(['a', 'b', 'c'], ['d']));
  });
});
