import { describe, expect } from 'vitest';
import { SimCluster } from '../sim/cluster.ts';
import { itSeeded } from '../sim/seed.ts';

/**
 * Even-sized clusters, where "half" and "a majority" differ: split exactly in two, neither
 * half may elect a leader or commit, and the cluster recovers once healed.
 */
describe('even cluster sizes: half is not a majority', () => {
  for (const size of [2, 4, 6]) {
    itSeeded(`${size} nodes split in half: no commit and no new leader on either side`, 6000 + size * 10, 3, (seed) => {
      const c = new SimCluster({ seed, size });
      const leader = c.waitForLeader();
      const before = c.one('a=1', size);
      const others = c.ids.filter((id) => id !== leader);
      const withLeader = [leader, ...others.slice(0, size / 2 - 1)];
      const without = others.slice(size / 2 - 1);
      expect(withLeader.length).toBe(without.length);
      c.net.partition([withLeader, without]);
      const term = c.raft(leader).status().term;
      const p = c.raft(leader).propose([{ data: 'a=2' }]);
      expect(p.ok).toBe(true);
      c.run(3_000);
      // The entry reached every log on the leader's side, and still is not committed.
      for (const id of withLeader) expect(c.raft(id).log.term(before + 1), `${id} holds the entry`).toBe(term);
      expect(c.nCommitted(before + 1).count).toBe(0);
      for (const id of c.ids) expect(c.raft(id).log.commitIndex, `${id}'s commit index`).toBe(before);
      // Nobody leads a term after the old one: half the votes never win.
      expect(c.leaders().filter((l) => l.term > term)).toEqual([]);
      // check-quorum: the old leader gave up too.
      expect(c.leaders()).toEqual([]);
      c.net.heal();
      c.one('b=2', size);
    });
  }

  itSeeded('4 nodes: the leader commits with two followers of three, not with one', 6100, 3, (seed) => {
    const c = new SimCluster({ seed, size: 4, checkQuorum: false });
    const leader = c.waitForLeader();
    const before = c.one('a=1', 4);
    const [f1, f2, f3] = c.ids.filter((id) => id !== leader);
    c.crash(f2);
    c.crash(f3);
    c.raft(leader).propose([{ data: 'a=2' }]);
    c.runUntil(() => c.raft(f1).log.lastIndex() > before, 1_000, 'the entry on f1');
    c.run(1_000);
    expect(c.raft(leader).log.commitIndex).toBe(before);
    c.restart(f2);
    c.runUntil(() => c.raft(leader).log.commitIndex > before, 2_000, 'the entry to commit once a third log holds it');
    expect(c.raft(leader).log.commitIndex).toBe(before + 1);
  });
});
