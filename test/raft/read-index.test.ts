import { describe, expect } from 'vitest';
import { seededRng } from '../../src/raft/rng.ts';
import { SimCluster } from '../sim/cluster.ts';
import { itSeeded } from '../sim/seed.ts';

describe('ReadIndex', () => {
  itSeeded('never returns a stale value across leader changes', 4000, 8, (s) => {
    const c = new SimCluster({ seed: s, size: 5, persistDelay: [0, 3] });
    const rng = seededRng(s * 17 + 9);
    c.waitForLeader();
    let acknowledged = 0;
    const issued: { ctx: string; atLeast: number; onOldLeader: boolean }[] = [];
    let cutLeader: string | null = null;
    for (let round = 0; round < 40; round++) {
      c.one(`c=${acknowledged + 1}`, 3, 20_000);
      acknowledged++;
      for (const id of c.upIds()) {
        const ctx = `r${round}-${id}`;
        c.read(id, ctx, 'c');
        issued.push({ ctx, atLeast: acknowledged, onOldLeader: id === cutLeader });
      }
      c.run(rng.int(0, 30));
      if (round % 10 === 3) {
        // Cut the leader off: it still believes it leads for a while and gets reads.
        cutLeader = c.stableLeader();
        if (cutLeader) c.isolate(cutLeader);
      } else if (round % 10 === 7 && cutLeader) {
        c.reconnect(cutLeader);
        cutLeader = null;
      }
    }
    c.net.heal();
    c.run(2_000);
    let served = 0;
    let refusedOnOldLeader = 0;
    for (const r of issued) {
      const res = c.reads.get(r.ctx)!;
      if (res.value !== undefined) {
        served++;
        expect(Number(res.value), `read ${r.ctx}`).toBeGreaterThanOrEqual(r.atLeast);
      } else if (r.onOldLeader && res.error) {
        refusedOnOldLeader++;
      }
    }
    expect(served).toBeGreaterThan(30);
    expect(refusedOnOldLeader).toBeGreaterThan(0);
  });

  itSeeded('a new leader answers reads only after committing an entry of its own term', 77, 5, (seed) => {
    const c = new SimCluster({ seed, size: 5, persistDelay: [2, 2] });
    const leader = c.waitForLeader();
    c.one('k=1', 5);
    // Two followers fall behind, so the next leader needs two round trips with one of them
    // (a rejected probe, then the entries) to commit its no-op, while one round trip with
    // any two followers confirms a read round: a read it answered without waiting for its
    // own term's commit would be answered early.
    const [f1, f2, f3, f4] = c.ids.filter((id) => id !== leader);
    c.isolate(f3);
    c.isolate(f4);
    c.one('k=2', 3);
    c.crash(leader);
    c.reconnect(f3);
    c.reconnect(f4);
    let next: string | null = null;
    c.runUntil(
      () => {
        next = c.leaders().find((l) => l.id !== leader)?.id ?? null;
        return next !== null;
      },
      5_000,
      'a new leader',
    );
    expect([f1, f2]).toContain(next);
    const r = c.raft(next!);
    expect(r.log.term(r.log.commitIndex)).toBeLessThan(r.status().term);
    c.read(next!, 'early', 'k');
    expect(c.reads.get('early')!.value).toBeUndefined();
    // Checked after every simulated event: the read is answered at the earliest in the
    // step that commits the leader's first entry of its term.
    c.runUntil(() => c.reads.get('early')!.value !== undefined, 2_000, 'the read to be served');
    expect(r.log.term(r.log.commitIndex)).toBe(r.status().term);
    expect(c.reads.get('early')!.value).toBe('2');
  });

});
