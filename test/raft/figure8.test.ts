import { describe, expect, it } from 'vitest';
import { SimCluster } from '../sim/cluster.ts';

/**
 * The exact schedule of Figure 8 in the Raft paper, forced with partitions, crashes and
 * explicit campaigns. Entry 3 (term 1) reaches a majority while its leader is in term 3;
 * counting those replicas would commit it, and the term-2 leader elected next would then
 * overwrite a committed entry. The random Figure 8 tests rarely hit this interleaving
 * because each new leader's no-op usually travels with the old entries.
 */
describe('Figure 8, scripted', () => {
  it('an old-term entry on a majority is not committed until a current-term entry is', () => {
    const c = new SimCluster({ seed: 8, size: 5, electionTick: 1000, preVote: false, checkQuorum: false, maxEntriesPerMessage: 1 });
    const [s0, s1, s2, s3, s4] = c.ids;
    const elect = (id: string) => {
      for (let attempt = 0; attempt < 5 && c.raft(id).status().role !== 'leader'; attempt++) {
        c.raft(id).campaignNow();
        try {
          c.runUntil(() => c.raft(id).status().role === 'leader', 200, `${id} to win`);
        } catch {
          /* lost this round (split vote or a newer term learned): campaign again */
        }
      }
      expect(c.raft(id).status().role).toBe('leader');
    };

    // (a) s0 leads term 1 and gets entry 3 onto s1 only.
    elect(s0);
    c.one('a=1', 5);
    c.net.partition([[s0, s1], [s2, s3, s4]]);
    const x = c.raft(s0).propose([{ data: 'x=2' }]);
    expect(x).toMatchObject({ ok: true, index: 3, term: 1 });
    c.runUntil(() => c.raft(s1).status().lastIndex >= 3, 500, 's1 to hold entry 3');

    // (b) s0 crashes; s4 wins term 2 with s2 and s3 and logs its no-op at index 3 alone.
    c.isolate(s0);
    c.crash(s0);
    c.net.partition([[s2, s3, s4], [s1], [s0]]);
    elect(s4);
    expect(c.raft(s4).log.term(3)).toBe(2);
    c.isolate(s4);
    c.crash(s4);

    // (c) s0 returns and leads term 3 with s1 and s2; entry 3 reaches s2 on its own.
    c.restart(s0);
    c.net.partition([[s0, s1, s2], [s3], [s4]]);
    elect(s0);
    c.runUntil(() => c.raft(s0).status().commitIndex >= 3 || c.raft(s2).status().lastIndex >= 4, 1_000, 'entry 3 on s2 or a commit');
    expect(c.raft(s2).log.term(3)).toBe(1);
    // A correct leader stops here with entry 4 on s2 and nothing new committed.
    expect(c.raft(s0).status().commitIndex).toBeLessThan(3);
    c.isolate(s0);
    c.crash(s0);

    // (d) s4 may now win with s2 and s3 and overwrite entry 3: legal only if it was never committed.
    c.restart(s4);
    c.net.partition([[s1, s2, s3, s4], [s0]]);
    for (let attempt = 0; attempt < 5 && c.raft(s4).status().role !== 'leader'; attempt++) {
      c.raft(s4).campaignNow();
      c.run(200);
    }
    c.net.heal();
    c.restart(s0);
    c.one('end=1', 5, 30_000);
  });
});
