import { describe, expect, it } from 'vitest';
import { happensBefore } from '../../tracing/clock.ts';
import { checkShiVizLogFor } from './trace-helpers.ts';
import { SimCluster } from '../sim/cluster.ts';
import { unreliable } from '../sim/network.ts';
import { itSeeded } from '../sim/seed.ts';

describe('the trace of a simulated run', () => {
  itSeeded('written as a ShiViz log, passes every ShiViz rule, causal consistency included', 5000, 3, (seed) => {
    const c = new SimCluster({ seed, size: 5, trace: true, persistDelay: [0, 3] });
    const leader = c.waitForLeader();
    for (let i = 0; i < 5; i++) c.one(`k${i}=${i}`, 5);
    c.crash(leader);
    c.net.faults = unreliable;
    c.one('after=1', 4, 20_000);
    c.restart(leader);
    c.one('back=1', 5, 20_000);
    const { violations, events } = checkShiVizLogFor(c.sink.records);
    expect(violations).toEqual([]);
    expect(events).toBeGreaterThan(100);
    // Heartbeats that carry nothing new stay out of the log: an idle stretch adds none.
    c.net.heal();
    c.run(500);
    const traced = c.sink.records.length;
    const sent = c.sent.get('AppendEntries') ?? 0;
    c.run(2_000);
    expect((c.sent.get('AppendEntries') ?? 0) - sent).toBeGreaterThan(100);
    expect(c.sink.records.length).toBe(traced);
  });

  it('records each Raft action, with every LeaderElected after its granted votes', () => {
    const c = new SimCluster({ seed: 5100, size: 3, trace: true });
    c.waitForLeader();
    const idx = c.one('x=1', 3);
    const tags = new Set(c.sink.records.map((r) => r.tag));
    for (const t of ['RaftStart', 'RequestVote', 'RequestVoteRecv', 'RequestVoteRes', 'LeaderElected', 'AppendEntries', 'AppendEntriesRecv', 'AppendEntriesRes', 'Commit', 'Apply']) {
      expect(tags, t).toContain(t);
    }
    for (const elected of c.sink.records.filter((r) => r.tag === 'LeaderElected')) {
      const grants = c.sink.records.filter(
        (r) => r.tag === 'RequestVoteRes' && r.body.voteGranted && !r.body.preVote && r.body.candidateId === elected.host && r.body.term === elected.body.term,
      );
      expect(grants.filter((g) => happensBefore(g.clock, elected.clock)).length + 1).toBeGreaterThanOrEqual(2);
    }
    const applies = c.sink.records.filter((r) => r.tag === 'Apply' && r.body.index === idx);
    expect(applies.map((a) => a.host).sort()).toEqual(c.ids);
    const commit = c.sink.records.find((r) => r.tag === 'Commit' && r.body.index === idx)!;
    expect(commit.body.operation).toBe('x=1');
  });

  it('records membership changes and leadership transfers, and the log still passes every ShiViz rule', () => {
    const c = new SimCluster({ seed: 5200, size: 3, trace: true });
    const leader = c.waitForLeader();
    c.one('x=1', 3);
    const d = c.addNode();
    c.changeConf([{ type: 'addLearnerNode', nodeId: d }]);
    c.waitCaughtUp(d);
    c.changeConf([{ type: 'addNode', nodeId: d }]);
    const target = c.ids.find((id) => id !== leader && id !== d)!;
    c.raft(leader).transferLeadership(target);
    c.runUntil(() => c.stableLeader() === target, 1_000, `${target} to lead`);
    c.one('y=1', 4);
    const recs = c.sink.records;
    const proposed = recs.filter((r) => r.tag === 'ConfChangeProposed');
    expect(proposed.map((r) => r.body.change)).toEqual([`addLearnerNode ${d}`, `addNode ${d}`, 'leaveJoint']);
    expect(proposed[1].body).toMatchObject({ serverId: leader, oldVoters: ['server0', 'server1', 'server2'], newVoters: ['server0', 'server1', 'server2', d], votersOutgoing: ['server0', 'server1', 'server2'] });
    const committed = recs.filter((r) => r.tag === 'ConfChangeCommitted');
    expect(committed.map((r) => r.body.index)).toEqual(proposed.map((r) => r.body.index));
    expect(committed.at(-1)!.body).toMatchObject({ voters: ['server0', 'server1', 'server2', d], votersOutgoing: [], learners: [] });
    // Each commit record follows the proposal of its entry (same host, later clock).
    for (const [k, r] of committed.entries()) expect(happensBefore(proposed[k].clock, r.clock)).toBe(true);
    expect(recs.filter((r) => r.tag === 'LeaderTransfer').map((r) => r.body)).toEqual([{ serverId: leader, target, term: 1 }]);
    expect(recs.filter((r) => r.tag === 'LeaderTransferEnd').map((r) => r.body)).toEqual([{ serverId: leader, target, term: 1, outcome: 'steppedDown' }]);
    const timeoutNow = recs.find((r) => r.tag === 'TimeoutNow')!;
    const received = recs.find((r) => r.tag === 'TimeoutNowRecv')!;
    expect(timeoutNow.body).toEqual({ term: 1, leaderId: leader, to: target });
    expect(received.host).toBe(target);
    expect(happensBefore(timeoutNow.clock, received.clock)).toBe(true);
    // The target's election follows the TimeoutNow, and its vote requests say why.
    const elected = recs.find((r) => r.tag === 'LeaderElected' && r.host === target)!;
    expect(happensBefore(received.clock, elected.clock)).toBe(true);
    expect(recs.filter((r) => r.tag === 'RequestVote' && r.host === target).every((r) => r.body.transfer === true)).toBe(true);
    expect(checkShiVizLogFor(recs).violations).toEqual([]);
  });
});

describe('RaftStart', () => {
  it('records the commit index the node recovered from storage: 0 at first, what it had committed after a restart', () => {
    const c = new SimCluster({ seed: 5200, size: 3, trace: true });
    c.waitForLeader();
    const idx = c.one('x=1', 3);
    const follower = c.ids.find((id) => !c.leaders().some((l) => l.id === id))!;
    c.runUntil(() => c.raft(follower).log.commitIndex >= idx, 5_000, `${follower} to learn index ${idx} is committed`);
    const before = c.raft(follower).log.commitIndex;
    c.crash(follower);
    c.restart(follower);
    const starts = c.sink.records.filter((r) => r.tag === 'RaftStart' && r.host === follower);
    expect(starts.map((r) => r.body.commitIndex)).toEqual([0, before]);
    expect(before).toBeGreaterThanOrEqual(idx);
  });
});
