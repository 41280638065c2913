import { describe, expect } from 'vitest';
import { seededRng } from '../../src/raft/rng.ts';
import { SimCluster } from '../sim/cluster.ts';
import { reliable, unreliable } from '../sim/network.ts';
import { itSeeded } from '../sim/seed.ts';
import { churn, crashStorm, partitionStorm } from '../sim/storms.ts';

describe('agreement under faults', () => {
  itSeeded('agreement over an unreliable network (drops, duplicates, reordering)', 3000, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5, persistDelay: [0, 3] });
    c.net.faults = unreliable;
    c.waitForLeader(10_000);
    for (let i = 0; i < 30; i++) c.one(`u${i}=${i}`, 5, 20_000);
    expect(c.nodes.get(c.ids[0])!.durable.kv.get('u29')).toBe('29');
  });

  // The 6.824 Figure 8 test: random leader crashes while proposing. It seldom produces the
  // paper's exact interleaving (a leader that commits an old-term entry by counting replicas
  // passes it on 30 seeds out of 30); figure8.test.ts forces that schedule.
  itSeeded('Figure 8, random: leaders crash while proposing, and every node applies the same entries', 3100, 5, (s) => {
    const c = new SimCluster({ seed: s, size: 5, persistDelay: [0, 3] });
    const rng = seededRng(s * 7 + 1);
    c.one('start=1', 1);
    crashStorm(c, rng, 300);
    c.one('end=1', 5, 30_000);
  });

  itSeeded('Figure 8 over an unreliable network, hundreds of iterations', 3200, 10, (s) => {
    // One entry per message, so a new leader's no-op does not travel with the old-term
    // entries before it and the interleaving of Figure 8 can come up: a leader that
    // commits an old-term entry by counting replicas fails about one seed in four here
    // (the scripted test in figure8.test.ts forces it every time).
    const c = new SimCluster({ seed: s, size: 5, persistDelay: [0, 3], maxEntriesPerMessage: 1 });
    c.net.faults = unreliable;
    const rng = seededRng(s * 13 + 5);
    c.one('start=1', 1, 20_000);
    partitionStorm(c, rng, 400);
    c.net.faults = reliable;
    c.one('end=1', 5, 30_000);
  });

  itSeeded('churn: random crash, restart and partition while proposals flow', 3300, 5, (s) => {
    const c = new SimCluster({ seed: s, size: 5, persistDelay: [0, 5] });
    const rng = seededRng(s * 31 + 3);
    c.waitForLeader();
    const acknowledged = churn(c, rng, 300);
    const last = c.one('final=1', 5, 30_000);
    expect(acknowledged.length).toBeGreaterThan(50);
    for (const a of acknowledged) {
      expect(a.index).toBeLessThan(last);
      for (const id of c.ids) expect(c.nodes.get(id)!.durable.kv.get(a.data.split('=')[0])).toBe(a.data.split('=')[1]);
    }
  });
});
