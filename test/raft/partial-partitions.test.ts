import { describe, expect } from 'vitest';
import { seededRng } from '../../src/raft/rng.ts';
import { SimCluster } from '../sim/cluster.ts';
import { itSeeded } from '../sim/seed.ts';

/**
 * Partitions that do not split the cluster cleanly: single links cut, and links cut one
 * way only, so that a node hears a peer that cannot hear it. The invariants are checked
 * after every simulated step; each test also checks that the cluster recovers once healed.
 */
describe('partial partitions', () => {
  itSeeded('a leader cut from two of four followers keeps leading with the other two; the two cannot depose it', 7000, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5 });
    const leader = c.waitForLeader();
    c.one('a=1', 5);
    const term = c.raft(leader).status().term;
    const [a, b] = c.ids.filter((id) => id !== leader);
    // a and b still reach the other two and each other; only their links to the leader are cut.
    c.net.cutLink(leader, a);
    c.net.cutLink(leader, b);
    const before = c.messageCount();
    c.run(3_000);
    // a and b time out and ask for pre-votes; x and y, which hear the leader, refuse.
    expect(c.messageCount()).toBeGreaterThan(before);
    expect(c.leaders()).toEqual([{ id: leader, term }]);
    for (const id of c.ids) expect(c.raft(id).status().term, `${id}'s term`).toBe(term);
    const idx = c.one('b=2', 3);
    for (const id of [a, b]) expect(c.raft(id).log.lastIndex(), `${id} cannot have it`).toBeLessThan(idx);
    c.net.heal();
    const last = c.one('c=3', 5);
    for (const id of [a, b]) c.runUntil(() => c.nodes.get(id)!.durable.appliedIndex >= last, 2_000, `${id} to catch up`);
  });

  itSeeded('a follower that hears nothing from the leader, though the leader hears it, does not disturb it', 7100, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5 });
    const leader = c.waitForLeader();
    c.one('a=1', 5);
    const term = c.raft(leader).status().term;
    const deaf = c.ids.find((id) => id !== leader)!;
    c.net.cutOneWay(leader, deaf);
    let preVotes = 0;
    c.watch((m) => {
      if (m.type === 'RequestVote' && m.from === deaf) preVotes++;
    });
    c.run(3_000);
    expect(preVotes).toBeGreaterThan(0);
    // Its requests reach the leader and the others; everyone in the leader's lease ignores them.
    expect(c.leaders()).toEqual([{ id: leader, term }]);
    expect(c.raft(deaf).status().term).toBe(term);
    c.one('b=2', 4);
    c.net.heal();
    const last = c.one('c=3', 5);
    c.runUntil(() => c.nodes.get(deaf)!.durable.appliedIndex >= last, 2_000, 'the deaf follower to catch up');
  });

  itSeeded('a leader that is heard by all but hears none steps down, and the others elect one of themselves', 7200, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5 });
    const old = c.waitForLeader();
    c.one('a=1', 5);
    const term = c.raft(old).status().term;
    const others = c.ids.filter((id) => id !== old);
    for (const id of others) c.net.cutOneWay(id, old);
    // Its heartbeats still arrive, but no acknowledgement comes back: check-quorum ends it.
    c.runUntil(() => c.raft(old).status().role !== 'leader', 3_000, 'the deaf leader to step down');
    let next: string | null = null;
    c.runUntil(
      () => {
        next = c.leaders().find((l) => l.term > term)?.id ?? null;
        return next !== null;
      },
      5_000,
      'a new leader among the others',
    );
    expect(others).toContain(next);
    // The old leader can reach them but not hear them: it cannot win, and the others commit without it.
    c.one('b=2', 4);
    expect(c.raft(old).status().role).not.toBe('leader');
    c.net.heal();
    const last = c.one('c=3', 5);
    c.runUntil(() => c.nodes.get(old)!.durable.appliedIndex >= last, 2_000, 'the old leader to catch up');
  });

  itSeeded('random cut links and one-way cuts: writes acknowledged stay, reads are never stale, progress resumes when healed', 7300, 6, (s) => {
    const c = new SimCluster({ seed: s, size: 5, persistDelay: [0, 3] });
    const rng = seededRng(s * 101 + 7);
    c.waitForLeader();
    let acknowledged = 0;
    let proposed = 0;
    const inFlight: { value: number; index: number }[] = [];
    const acked: { value: number; index: number }[] = [];
    const issued: { ctx: string; atLeast: number }[] = [];
    let cutsSeen = 0;
    for (let round = 0; round < 30; round++) {
      // A new topology: each direction of each link cut with probability 1/4 (every fifth round, healed).
      c.net.heal();
      if (round % 5 !== 4) {
        for (const a of c.ids) for (const b of c.ids) if (a !== b && rng.next() < 0.25) c.net.cutOneWay(a, b);
      }
      cutsSeen += c.net.cuts().length;
      for (let step = 0; step < 10; step++) {
        const p = c.propose(`k=${proposed + 1}`);
        if (p) inFlight.push({ value: ++proposed, index: p.index });
        for (const id of c.upIds()) {
          const ctx = `r${round}.${step}-${id}`;
          c.read(id, ctx, 'k');
          issued.push({ ctx, atLeast: acknowledged });
        }
        c.run(rng.int(5, 40));
        // A write is acknowledged once some node applied it at the index it was proposed at.
        for (let k = inFlight.length - 1; k >= 0; k--) {
          const { count, data } = c.nCommitted(inFlight[k].index);
          if (count === 0) continue;
          if (data === `k=${inFlight[k].value}`) {
            acknowledged = Math.max(acknowledged, inFlight[k].value);
            acked.push(inFlight[k]);
          }
          inFlight.splice(k, 1);
        }
      }
    }
    expect(cutsSeen).toBeGreaterThan(0);
    c.net.heal();
    const last = c.one('k=final', 5, 20_000);
    // Every write acknowledged during the storms is where it was acknowledged, now on every node.
    const committed = c.invariants.committedEntries();
    for (const w of acked) expect(committed.get(w.index)?.data, `write ${w.value}`).toBe(`k=${w.value}`);
    for (const id of c.ids) expect(c.nodes.get(id)!.durable.appliedIndex).toBeGreaterThanOrEqual(last);
    let served = 0;
    for (const r of issued) {
      const res = c.reads.get(r.ctx)!;
      if (res.value === undefined) continue;
      served++;
      const seen = res.value === '' ? 0 : Number(res.value);
      expect(seen, `read ${r.ctx} issued after write ${r.atLeast} was acknowledged`).toBeGreaterThanOrEqual(r.atLeast);
    }
    expect(acknowledged).toBeGreaterThan(100);
    expect(served).toBeGreaterThan(100);
  });
});
