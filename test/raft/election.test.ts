import { describe, expect, it } from 'vitest';
import { seededRng } from '../../src/raft/rng.ts';
import { SimCluster } from '../sim/cluster.ts';
import { itSeeded, seeds, withSeed } from '../sim/seed.ts';

describe('elections', () => {
  itSeeded('initial election: one leader, and the term stays put while nothing fails', 100, 10, (seed) => {
    const c = new SimCluster({ seed, size: 3 });
    const leader = c.waitForLeader();
    const term = c.raft(leader).status().term;
    c.run(5_000);
    expect(c.leaders()).toEqual([{ id: leader, term }]);
    for (const id of c.ids) expect(c.raft(id).status().term).toBe(term);
  });

  itSeeded('re-election after the leader is cut off, and the old leader rejoins as a follower', 200, 10, (seed) => {
    const c = new SimCluster({ seed, size: 3 });
    const first = c.waitForLeader();
    c.isolate(first);
    const second = c.waitForLeader();
    expect(second).not.toBe(first);
    // check-quorum: the cut-off leader notices it lost its majority and steps down.
    c.runUntil(() => c.raft(first).status().role !== 'leader', 2_000, `${first} to step down`);
    c.reconnect(first);
    c.run(1_000);
    expect(c.stableLeader()).toBe(second);
    expect(c.raft(first).status().leaderId).toBe(second);
  });

  it('followers told the link to their leader broke elect a new one before an election timeout, and no sooner than it otherwise', () => {
    // tickMs 10, electionTick 10: the minimum election timeout is 100 virtual ms.
    const fast: number[] = [];
    const slow: number[] = [];
    for (const seed of seeds(150, 10)) {
      withSeed(seed, () => {
        for (const notify of [true, false]) {
          const c = new SimCluster({ seed, size: 3 });
          const old = c.waitForLeader();
          c.run(200); // steady heartbeats: every follower is inside the leader's lease
          const followers = c.ids.filter((id) => id !== old);
          c.crash(old);
          const crashedAt = c.now;
          // The broken link is noticed after what the leader had in flight has arrived.
          c.run(30);
          const notifiedAt = c.now;
          if (notify) for (const f of followers) c.raft(f).leaderUnreachable(old);
          const next = c.waitForLeader();
          expect(followers).toContain(next);
          if (notify) fast.push(c.now - notifiedAt);
          else slow.push(c.now - crashedAt);
        }
      });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    // A split vote can still cost a full timeout now and then; typically it is well under one.
    expect(median(fast)).toBeLessThan(100);
    expect(Math.min(...slow)).toBeGreaterThanOrEqual(100);
    expect(median(fast)).toBeLessThan(median(slow) / 2);
  });

  itSeeded('a follower that wrongly thinks its leader is gone cannot depose it: the others refuse while in its lease', 160, 10, (seed) => {
    const c = new SimCluster({ seed, size: 3 });
    const leader = c.waitForLeader();
    const term = c.raft(leader).status().term;
    c.run(200);
    const [f, g] = c.ids.filter((id) => id !== leader);
    // A spurious report while heartbeats still arrive: the next heartbeat restores the leader.
    c.raft(f).leaderUnreachable(leader);
    c.run(1_000);
    expect(c.stableLeader()).toBe(leader);
    expect(c.raft(f).status().leaderId).toBe(leader);
    // Now the link between f and the leader really is down, and only that link: f hears
    // no heartbeats and campaigns, and g, which still hears the leader, refuses it.
    const asked: string[] = [];
    c.watch((m) => {
      if (m.type === 'RequestVote' && m.from === f) asked.push(m.to);
    });
    c.net.cutLink(leader, f);
    c.raft(f).leaderUnreachable(leader);
    c.run(1_000);
    expect(asked).toContain(g);
    expect(c.stableLeader()).toBe(leader);
    expect(c.raft(leader).status().term).toBe(term);
    expect(c.raft(g).status().term).toBe(term);
    c.net.heal();
    c.run(500);
    expect(c.stableLeader()).toBe(leader);
    expect(c.raft(leader).status().term).toBe(term);
    expect(c.raft(f).status().leaderId).toBe(leader);
  });


  itSeeded('a broken link to a node that is not the leader changes nothing', 170, 5, (seed) => {
    const c = new SimCluster({ seed, size: 3 });
    const leader = c.waitForLeader();
    const term = c.raft(leader).status().term;
    const [f, g] = c.ids.filter((id) => id !== leader);
    c.raft(f).leaderUnreachable(g);
    c.raft(leader).leaderUnreachable(f);
    c.run(1_000);
    expect(c.stableLeader()).toBe(leader);
    expect(c.raft(leader).status().term).toBe(term);
  });

  itSeeded('no leader without a quorum', 300, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5 });
    const leader = c.waitForLeader();
    const others = c.ids.filter((id) => id !== leader);
    c.crash(others[0]);
    c.crash(others[1]);
    c.crash(leader);
    c.run(5_000);
    expect(c.leaders()).toEqual([]);
    c.restart(leader);
    c.waitForLeader();
  });

  itSeeded('many elections on 7 nodes: each round cuts the leader and 2 random others', 400, 3, (s) => {
    const c = new SimCluster({ seed: s, size: 7 });
    const rng = seededRng(s * 3 + 1);
    let leader = c.waitForLeader();
    const terms = [c.raft(leader).status().term];
    for (let round = 0; round < 10; round++) {
      const cut = new Set<string>([leader]);
      while (cut.size < 3) cut.add(c.ids[rng.int(0, c.ids.length)]);
      for (const id of cut) c.isolate(id);
      // Four connected nodes are a majority of seven: they must elect a new leader.
      const next = c.waitForLeader(5_000);
      expect(cut.has(next), `round ${round}: ${next} was cut off`).toBe(false);
      terms.push(c.raft(next).status().term);
      for (const id of cut) c.reconnect(id);
      leader = c.waitForLeader();
    }
    // One election (at least) per round, each in a newer term.
    for (let i = 1; i < terms.length; i++) expect(terms[i]).toBeGreaterThan(terms[i - 1]);
  });


  itSeeded('pre-vote: a node that was partitioned cannot depose a healthy leader when it rejoins', 500, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5 });
    const leader = c.waitForLeader();
    const term = c.raft(leader).status().term;
    const loner = c.ids.find((id) => id !== leader)!;
    let preVotes = 0;
    c.watch((m) => {
      if (m.type === 'RequestVote' && m.preVote && m.from === loner) preVotes++;
    });
    c.isolate(loner);
    c.run(5_000);
    // Alone it keeps asking for pre-votes, but never bumps its term.
    expect(preVotes).toBeGreaterThan(10);
    expect(c.raft(loner).status().term).toBe(term);
    c.reconnect(loner);
    c.run(2_000);
    expect(c.stableLeader()).toBe(leader);
    expect(c.raft(leader).status().term).toBe(term);
  });

  it('without pre-vote the same rejoin forces a new term (the problem pre-vote solves)', () => {
    const c = new SimCluster({ seed: 7, size: 5, preVote: false, checkQuorum: false });
    const leader = c.waitForLeader();
    const term = c.raft(leader).status().term;
    const loner = c.ids.find((id) => id !== leader)!;
    c.isolate(loner);
    c.run(5_000);
    expect(c.raft(loner).status().term).toBeGreaterThan(term + 3);
    c.reconnect(loner);
    c.run(2_000);
    c.waitForLeader();
    expect(Math.max(...c.ids.map((id) => c.raft(id).status().term))).toBeGreaterThan(term);
  });

  it('check-quorum: a leader that loses its majority steps down', () => {
    const c = new SimCluster({ seed: 11, size: 5 });
    const leader = c.waitForLeader();
    const others = c.ids.filter((id) => id !== leader);
    c.net.partition([[leader, others[0]], others.slice(1)]);
    c.runUntil(() => c.raft(leader).status().role !== 'leader', 3_000, 'the minority leader to step down');
    const next = c.waitForLeader();
    expect(others.slice(1)).toContain(next);
  });
});
