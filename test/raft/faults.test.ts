import { describe, expect } from 'vitest';
import { seededRng } from '../../src/raft/rng.ts';
import { SimCluster } from '../sim/cluster.ts';
import { reliable, unreliable } from '../sim/network.ts';
import { itSeeded } from '../sim/seed.ts';

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
    for (let iter = 0; iter < 300; iter++) {
      const leaders = c.leaders();
      for (const l of leaders) c.raft(l.id).propose([{ data: `f${iter}=${rng.int(0, 1e6)}` }]);
      c.run(rng.next() < 0.1 ? rng.int(0, 500) : rng.int(0, 13));
      if (leaders.length > 0 && rng.next() < 0.5) {
        const victim = leaders[rng.int(0, leaders.length)].id;
        if (c.nodes.get(victim)!.up) c.crash(victim);
      }
      if (c.upIds().length < 3) {
        const down = c.ids.filter((id) => !c.nodes.get(id)!.up);
        c.restart(down[rng.int(0, down.length)]);
      }
    }
    for (const id of c.ids) if (!c.nodes.get(id)!.up) c.restart(id);
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
    const cut = new Set<string>();
    for (let iter = 0; iter < 400; iter++) {
      if (iter % 100 === 99) {
        // Long calm stretches let the cluster commit between the storms.
        for (const id of cut) c.reconnect(id);
        cut.clear();
      }
      const leaders = c.leaders();
      for (const l of leaders) c.raft(l.id).propose([{ data: `g${iter}=${rng.int(0, 1e6)}` }]);
      c.run(rng.next() < 0.1 ? rng.int(0, 500) : rng.int(0, 13));
      if (leaders.length > 0 && rng.next() < 0.5) {
        const victim = leaders[rng.int(0, leaders.length)].id;
        c.isolate(victim);
        cut.add(victim);
      }
      if (c.ids.length - cut.size < 3) {
        const back = [...cut][rng.int(0, cut.size)];
        cut.delete(back);
        // Re-cut the others: reconnect() restores all of a node's links.
        c.reconnect(back);
        for (const id of cut) c.isolate(id);
      }
    }
    c.net.heal();
    c.net.faults = reliable;
    c.one('end=1', 5, 30_000);
  });

  itSeeded('churn: random crash, restart and partition while proposals flow', 3300, 5, (s) => {
    const c = new SimCluster({ seed: s, size: 5, persistDelay: [0, 5] });
    const rng = seededRng(s * 31 + 3);
    c.waitForLeader();
    const acknowledged: { data: string; index: number }[] = [];
    const inFlight: { data: string; index: number; term: number }[] = [];
    for (let step = 0; step < 300; step++) {
      const p = c.propose(`ch${step}=${step}`);
      if (p) inFlight.push({ data: `ch${step}=${step}`, index: p.index, term: p.term });
      c.run(rng.int(5, 40));
      // A proposal counts as acknowledged once it is applied at its index by anyone.
      for (let k = inFlight.length - 1; k >= 0; k--) {
        const { count, data } = c.nCommitted(inFlight[k].index);
        if (count > 0) {
          if (data === inFlight[k].data) acknowledged.push(inFlight[k]);
          inFlight.splice(k, 1);
        }
      }
      const r = rng.next();
      const id = c.ids[rng.int(0, 5)];
      const node = c.nodes.get(id)!;
      if (r < 0.1 && node.up && c.upIds().length > 3) c.crash(id);
      else if (r < 0.25 && !node.up) c.restart(id);
      else if (r < 0.3) c.isolate(id);
      else if (r < 0.45) c.reconnect(id);
    }
    c.net.heal();
    for (const id of c.ids) if (!c.nodes.get(id)!.up) c.restart(id);
    const last = c.one('final=1', 5, 30_000);
    expect(acknowledged.length).toBeGreaterThan(50);
    for (const a of acknowledged) {
      expect(a.index).toBeLessThan(last);
      for (const id of c.ids) expect(c.nodes.get(id)!.durable.kv.get(a.data.split('=')[0])).toBe(a.data.split('=')[1]);
    }
  });
});
