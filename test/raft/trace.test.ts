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
});
