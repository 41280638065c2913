import type { Rng } from '../../src/raft/rng.ts';
import type { SimCluster } from './cluster.ts';

/**
 * The randomized fault drivers the suites share (with and without snapshots), so each
 * test states only its cluster options and what it checks afterwards.
 */

/**
 * The 6.824 Figure 8 storm: every leader proposes, time passes, and half the time a
 * leader crashes; a node restarts whenever fewer than 3 are up. Leaves every node up.
 */
export function crashStorm(c: SimCluster, rng: Rng, iterations: number): void {
  for (let iter = 0; iter < iterations; iter++) {
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
}

/**
 * Figure 8 with partitions instead of crashes: leaders are cut off at random (never
 * fewer than 3 connected), with calm stretches every 100 iterations so the cluster can
 * commit between storms. Leaves the network healed.
 */
export function partitionStorm(c: SimCluster, rng: Rng, iterations: number): void {
  const cut = new Set<string>();
  for (let iter = 0; iter < iterations; iter++) {
    if (iter % 100 === 99) {
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
}

/**
 * Churn on a 5-node cluster: a proposal per step while nodes crash, restart, and are
 * cut off and reconnected at random. Returns the proposals acknowledged (applied at their
 * index by some node). Leaves every node up and the network healed.
 */
export function churn(c: SimCluster, rng: Rng, steps: number): { data: string; index: number }[] {
  const acknowledged: { data: string; index: number }[] = [];
  const inFlight: { data: string; index: number }[] = [];
  for (let step = 0; step < steps; step++) {
    const p = c.propose(`ch${step}=${step}`);
    if (p) inFlight.push({ data: `ch${step}=${step}`, index: p.index });
    c.run(rng.int(5, 40));
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
  return acknowledged;
}
