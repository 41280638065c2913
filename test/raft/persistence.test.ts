import { describe, expect, it } from 'vitest';
import { SimCluster } from '../sim/cluster.ts';
import { seeds, withSeed } from '../sim/seed.ts';

// Persists take 1-8 virtual ms here, so crashes land between a Ready and its advance().
const slowDisk: [number, number] = [1, 8];

describe('persistence across crash and restart', () => {
  it('one follower crashes and restarts with its log and vote', () => {
    for (const seed of seeds(2000, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 3, persistDelay: slowDisk });
        const leader = c.waitForLeader();
        c.one('a=1', 3);
        const f = c.ids.find((id) => id !== leader)!;
        const before = c.nodes.get(f)!.durable.hardState;
        c.crash(f);
        c.restart(f);
        expect(c.raft(f).status().term).toBe(before.term);
        expect(c.raft(f).status().votedFor).toBe(before.votedFor);
        expect(c.raft(f).status().lastIndex).toBeGreaterThanOrEqual(2);
        c.one('b=2', 3);
      });
    }
  });

  it('the leader crashes and restarts; nothing committed is lost', () => {
    for (const seed of seeds(2100, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 3, persistDelay: slowDisk });
        const leader = c.waitForLeader();
        for (let i = 0; i < 5; i++) c.one(`k${i}=${i}`, 3);
        c.crash(leader);
        c.one('after=1', 2);
        c.restart(leader);
        const idx = c.one('back=1', 3);
        c.runUntil(() => c.nodes.get(leader)!.durable.appliedIndex >= idx, 2_000, 'the old leader to catch up');
        expect(c.nodes.get(leader)!.durable.kv.get('k4')).toBe('4');
      });
    }
  });

  it('all nodes crash and restart; every committed entry survives', () => {
    for (const seed of seeds(2200, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 5, persistDelay: slowDisk });
        c.waitForLeader();
        const committed: number[] = [];
        for (let i = 0; i < 10; i++) committed.push(c.one(`k${i}=${i}`, 5));
        for (const id of c.ids) c.crash(id);
        for (const id of c.ids) c.restart(id);
        c.waitForLeader();
        const idx = c.one('after=1', 5);
        expect(idx).toBeGreaterThan(committed[9]);
        for (const id of c.ids) expect(c.nodes.get(id)!.durable.kv.get('k9')).toBe('9');
      });
    }
  });

  it('repeated crashes of random nodes mid-persist never break safety', () => {
    for (const seed of seeds(2300, 10)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 5, persistDelay: slowDisk });
        c.waitForLeader();
        for (let round = 0; round < 20; round++) {
          c.propose(`r${round}=x`);
          c.run(3 + (round % 7));
          const victim = c.ids[(seed + round * 3) % 5];
          if (c.nodes.get(victim)!.up) c.crash(victim);
          c.run(20);
          c.restart(victim);
        }
        c.one('end=1', 5, 20_000);
      });
    }
  });
});
