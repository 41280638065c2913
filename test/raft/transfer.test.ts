import { describe, expect, it } from 'vitest';
import { Raft, type RaftConfig } from '../../src/raft/raft.ts';
import { seededRng } from '../../src/raft/rng.ts';
import type { Message, RequestVote } from '../../src/raft/types.ts';
import { SimCluster } from '../sim/cluster.ts';
import { itSeeded } from '../sim/seed.ts';

/** Leadership transfer (Raft thesis §3.10; etcd's MsgTransferLeader / MsgTimeoutNow). */

const make = (id: string, extra: Partial<RaftConfig> = {}) => new Raft({ id, peers: ['a', 'b', 'c'], electionTick: 10, heartbeatTick: 1, rng: seededRng(id.charCodeAt(0)), ...extra });

/** Instant delivery among a, b, c with cut links; every Ready persisted at once. */
function network(extra: Partial<RaftConfig> = {}) {
  const nodes = new Map(['a', 'b', 'c'].map((id) => [id, make(id, extra)]));
  const cut = new Set<string>();
  const log: Message[] = [];
  const settle = () => {
    for (let round = 0; round < 1000; round++) {
      const out: Message[] = [];
      for (const r of nodes.values()) for (let rd = r.ready(); rd; rd = r.ready()) out.push(...rd.messages, ...r.advance(rd));
      if (out.length === 0) return;
      for (const m of out) {
        log.push(m);
        if (!cut.has(`${m.from}>${m.to}`)) nodes.get(m.to)?.step(m);
      }
    }
    throw new Error('did not settle');
  };
  const get = (id: string) => nodes.get(id)!;
  // a leads term 1 (campaignNow runs a pre-vote first), and everyone heard from it: all in its lease.
  get('a').campaignNow();
  settle();
  get('a').tick();
  settle();
  expect(get('a').softState().role).toBe('leader');
  return { get, settle, log, cut: (x: string, y: string) => cut.add(`${x}>${y}`).add(`${y}>${x}`), heal: () => cut.clear() };
}

describe('leadership transfer in the core', () => {
  it('to an up-to-date voter: TimeoutNow at once; it campaigns without a pre-vote; voters in the lease grant it', () => {
    const net = network();
    const a = net.get('a');
    expect(a.transferLeadership('b')).toEqual({ ok: true });
    expect(a.status().leadTransferee).toBe('b');
    net.settle();
    const timeoutNow = net.log.filter((m) => m.type === 'TimeoutNow');
    expect(timeoutNow).toMatchObject([{ from: 'a', to: 'b', term: 1 }]);
    const votes = net.log.filter((m): m is RequestVote => m.type === 'RequestVote' && m.from === 'b');
    expect(votes.map((m) => [m.to, m.term, m.preVote, m.transfer])).toEqual([
      ['a', 2, false, true],
      ['c', 2, false, true],
    ]);
    expect(net.get('b').softState()).toEqual({ role: 'leader', term: 2, leaderId: 'b' });
    expect(a.softState()).toMatchObject({ role: 'follower', term: 2, leaderId: 'b' });
    expect(a.status().leadTransferee).toBeNull();
  });

  it('without the transfer flag the same vote request is ignored by a voter in its leader’s lease', () => {
    const net = network();
    const c = net.get('c');
    c.step({ type: 'RequestVote', from: 'b', to: 'c', term: 2, lastLogIndex: 1, lastLogTerm: 1, preVote: false });
    expect(c.softState()).toEqual({ role: 'follower', term: 1, leaderId: 'a' });
    c.step({ type: 'RequestVote', from: 'b', to: 'c', term: 2, lastLogIndex: 1, lastLogTerm: 1, preVote: false, transfer: true });
    expect(c.softState()).toEqual({ role: 'follower', term: 2, leaderId: null });
    expect(c.advance(c.ready()!)).toMatchObject([{ type: 'RequestVoteRes', to: 'b', term: 2, voteGranted: true }]);
  });

  it('to a lagging voter: entries first, TimeoutNow only once its log matches the leader’s', () => {
    const net = network();
    const a = net.get('a');
    net.cut('a', 'c');
    for (let i = 0; i < 5; i++) a.propose([{ data: `x${i}=${i}` }]);
    net.settle();
    expect(a.status().progress!.c.matchIndex).toBeLessThan(a.status().lastIndex);
    expect(a.transferLeadership('c')).toEqual({ ok: true });
    net.settle();
    expect(net.log.filter((m) => m.type === 'TimeoutNow')).toEqual([]);
    net.heal();
    a.tick();
    net.settle();
    const sent = net.log.filter((m) => m.to === 'c' && (m.type === 'AppendEntries' || m.type === 'TimeoutNow'));
    const first = sent.findIndex((m) => m.type === 'TimeoutNow');
    expect(first).toBeGreaterThan(0);
    // Before it: the entries c lacked.
    expect(sent.slice(0, first).some((m) => m.type === 'AppendEntries' && m.entries.length > 0)).toBe(true);
    expect(net.get('c').softState()).toMatchObject({ role: 'leader', term: 2 });
    expect(net.get('c').status().lastIndex).toBeGreaterThanOrEqual(6);
  });

  it('while handing over, the leader refuses proposals and membership changes, saying why', () => {
    const net = network();
    const a = net.get('a');
    net.cut('a', 'b');
    a.transferLeadership('b');
    expect(a.propose([{ data: 'x=1' }])).toEqual({ ok: false, leaderId: 'a', reason: 'leadership transfer to b in progress' });
    expect(a.proposeConfChange({ changes: [{ type: 'addLearnerNode', nodeId: 'd' }] })).toEqual({ ok: false, leaderId: 'a', reason: 'leadership transfer to b in progress' });
    // Reads go on: leadership is still confirmed by a quorum.
    a.readIndex('r1');
    net.settle();
  });

  it('gives up after an election timeout: the leader accepts proposals again, in the same term', () => {
    const net = network();
    const a = net.get('a');
    net.cut('a', 'b');
    a.transferLeadership('b');
    for (let i = 0; i < 9; i++) {
      a.tick();
      net.settle();
    }
    expect(a.status().leadTransferee).toBe('b');
    expect(a.propose([{ data: 'x=1' }]).ok).toBe(false);
    a.tick();
    net.settle();
    expect(a.status().leadTransferee).toBeNull();
    expect(a.softState()).toEqual({ role: 'leader', term: 1, leaderId: 'a' });
    expect(a.propose([{ data: 'x=1' }])).toMatchObject({ ok: true, term: 1 });
  });

  it('refuses a non-leader, itself, a learner and a stranger; a second transfer replaces the first', () => {
    const net = network();
    const a = net.get('a');
    expect(net.get('b').transferLeadership('c')).toEqual({ ok: false, leaderId: 'a', reason: 'not the leader (leader: a)' });
    expect(a.transferLeadership('a')).toMatchObject({ ok: false, reason: 'a is already the leader' });
    expect(a.transferLeadership('z')).toMatchObject({ ok: false, reason: 'z is not a member: only a voter can lead' });
    a.proposeConfChange({ changes: [{ type: 'addLearnerNode', nodeId: 'd' }] });
    net.settle();
    expect(a.transferLeadership('d')).toMatchObject({ ok: false, reason: 'd is a learner: only a voter can lead' });
    net.cut('a', 'b');
    net.cut('a', 'c');
    expect(a.transferLeadership('b')).toEqual({ ok: true });
    expect(a.transferLeadership('b')).toEqual({ ok: true });
    expect(a.transferLeadership('c')).toEqual({ ok: true });
    expect(a.status().leadTransferee).toBe('c');
  });

  it('a TimeoutNow from a deposed leader, or to a node that is not a voter, starts nothing', () => {
    const b = make('b');
    b.step({ type: 'AppendEntries', from: 'a', to: 'b', term: 3, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, readSeq: 0 });
    b.step({ type: 'TimeoutNow', from: 'c', to: 'b', term: 2 });
    expect(b.softState()).toEqual({ role: 'follower', term: 3, leaderId: 'a' });
    const learner = make('d', { peers: ['a', 'b', 'c'] });
    learner.step({ type: 'TimeoutNow', from: 'a', to: 'd', term: 1 });
    expect(learner.softState()).toEqual({ role: 'follower', term: 1, leaderId: 'a' });
  });
});

describe('leadership transfer on the simulated network', () => {
  itSeeded('to an up-to-date follower: it leads within a round trip or two, one term later, nothing lost', 11_000, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5 });
    const leader = c.waitForLeader();
    const idx = c.one('before=1', 5);
    c.run(200);
    const term = c.raft(leader).status().term;
    const target = c.ids.find((id) => id !== leader)!;
    const start = c.now;
    expect(c.raft(leader).transferLeadership(target)).toEqual({ ok: true });
    c.run(0);
    c.runUntil(() => c.stableLeader() === target, 1_000, `${target} to lead`);
    // Well under the minimum election timeout (100 virtual ms): no one waited for a timeout.
    expect(c.now - start).toBeLessThan(60);
    expect(c.raft(target).status().term).toBe(term + 1);
    c.runUntil(() => c.raft(leader).softState().leaderId === target, 200, `${leader} to follow ${target}`);
    expect(c.raft(leader).softState().role).toBe('follower');
    expect(c.nCommitted(idx).data).toBe('before=1');
    c.one('after=1', 5);
  });

  itSeeded('to a lagging follower: caught up first, then it leads with every entry', 11_100, 5, (seed) => {
    const c = new SimCluster({ seed, size: 3 });
    const leader = c.waitForLeader();
    const target = c.ids.find((id) => id !== leader)!;
    c.isolate(target);
    let last = 0;
    for (let i = 0; i < 20; i++) last = c.one(`k${i}=${i}`, 2);
    c.reconnect(target);
    let timeoutNowWhenBehind = false;
    c.watch((m) => {
      if (m.type !== 'TimeoutNow') return;
      const st = c.raft(leader).status();
      if (st.progress![target].matchIndex < st.lastIndex) timeoutNowWhenBehind = true;
    });
    expect(c.raft(leader).transferLeadership(target)).toEqual({ ok: true });
    c.runUntil(() => c.stableLeader() === target, 2_000, `${target} to lead`);
    expect(timeoutNowWhenBehind).toBe(false);
    expect(c.raft(target).status().lastIndex).toBeGreaterThanOrEqual(last);
    c.one('after=1', 3);
    expect(c.nodes.get(target)!.durable.kv.get('k19')).toBe('19');
  });

  itSeeded('a transfer whose target is cut off times out: proposals refused meanwhile, then the same leader goes on', 11_200, 5, (seed) => {
    const c = new SimCluster({ seed, size: 3 });
    const leader = c.waitForLeader();
    const term = c.raft(leader).status().term;
    const target = c.ids.find((id) => id !== leader)!;
    c.isolate(target);
    expect(c.raft(leader).transferLeadership(target)).toEqual({ ok: true });
    const refused = c.raft(leader).propose([{ data: 'during=1' }]);
    expect(refused).toEqual({ ok: false, leaderId: leader, reason: `leadership transfer to ${target} in progress` });
    c.run(50);
    expect(c.raft(leader).propose([{ data: 'during=2' }]).ok).toBe(false);
    // electionTick (10) ticks of 10 virtual ms, and the transfer is given up.
    c.runUntil(() => c.raft(leader).status().leadTransferee === null, 200, 'the transfer to time out');
    expect(c.raft(leader).softState()).toMatchObject({ role: 'leader', term });
    c.one('after=1', 2);
    c.reconnect(target);
    c.run(500);
    expect(c.stableLeader()).toBe(leader);
    expect(c.raft(leader).status().term).toBe(term);
  });

  itSeeded('handing over before removing the leader: the cluster never waits out an election timeout', 11_300, 4, (seed) => {
    const c = new SimCluster({ seed, size: 3, checkConf: true });
    const leader = c.waitForLeader();
    c.one('a=1', 3);
    const target = c.ids.find((id) => id !== leader)!;
    c.raft(leader).transferLeadership(target);
    c.runUntil(() => c.stableLeader() === target, 1_000, `${target} to lead`);
    c.changeConf([{ type: 'removeNode', nodeId: leader }]);
    expect(c.stableLeader()).toBe(target);
    c.one('b=1', 2);
  });
});
