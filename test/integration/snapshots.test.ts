import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
afterEach(async () => {
  await tc?.teardown();
  tc = null;
});

/** Snapshots every 20 entries, keeping 5 below: a few dozen writes compact several times. */
const SMALL = { snapshotCount: 20, catchUpEntries: 5 };

describe('log compaction on real servers (Raft §7)', () => {
  it('every server snapshots and compacts; a restart of all loads the snapshots and the tails, losing nothing', async () => {
    tc = await startTestCluster(3, (c) => ({ ...c, compaction: SMALL }));
    await tc.cluster.waitForLeader();
    const c = await tc.client();
    for (let i = 0; i < 100; i++) await c.put(`k${i % 30}`, `v${i}`);
    await c.incr('n');
    const statuses = await Promise.all(tc.config.servers.map((s) => tc!.cluster.waitFor(s.id, (st) => st.appliedIndex >= 100, 10_000, `${s.id} to apply 100 entries`)));
    for (const st of statuses) {
      expect(st.snapshotIndex, st.serverId).toBeGreaterThanOrEqual(80);
      // The log keeps catchUpEntries below the snapshot, and what came after it.
      expect(st.firstLogIndex, st.serverId).toBeGreaterThan(st.snapshotIndex - SMALL.catchUpEntries - SMALL.snapshotCount);
      expect(st.lastLogIndex - st.firstLogIndex + 1, st.serverId).toBeLessThan(SMALL.snapshotCount * 2 + SMALL.catchUpEntries);
      expect(readdirSync(path.join(tc.config.dataDir, st.serverId))).toContain('snapshot.bin');
    }
    const ids = tc.config.servers.map((s) => s.id);
    for (const id of ids) await tc.cluster.kill(id);
    for (const id of ids) await tc.cluster.start(id);
    await tc.cluster.waitForLeader();
    for (let k = 0; k < 30; k++) expect((await c.get(`k${k}`)).value).toBe(`v${k + 90 <= 99 ? k + 90 : k + 60}`);
    // The session table came back with the snapshot: the counter continues, not restarts.
    expect((await c.incr('n')).value).toBe('2');
  });

  it('a follower that was down while the others compacted past its log gets the snapshot and serves with them', async () => {
    tc = await startTestCluster(3, (c) => ({ ...c, compaction: SMALL }));
    const leader = await tc.cluster.waitForLeader();
    const victim = tc.config.servers.map((s) => s.id).find((id) => id !== leader)!;
    const other = tc.config.servers.map((s) => s.id).find((id) => id !== leader && id !== victim)!;
    const c = await tc.client({ serverId: leader });
    await c.put('first', 'x');
    const held = await tc.cluster.waitFor(victim, (st) => st.appliedIndex >= 2, 10_000, `${victim} to apply the first put`);
    await tc.cluster.kill(victim);
    for (let i = 0; i < 80; i++) await c.put(`k${i}`, `v${i}`);
    const compacted = await tc.cluster.waitFor(leader, (st) => st.firstLogIndex > held.lastLogIndex + 1, 10_000, `${leader} to compact past ${held.lastLogIndex}`);
    await tc.cluster.start(victim);
    const caughtUp = await tc.cluster.waitFor(victim, (st) => st.appliedIndex >= compacted.commitIndex, 20_000, `${victim} to catch up`);
    expect(caughtUp.snapshotIndex).toBeGreaterThan(held.lastLogIndex);
    // Now the victim is needed for a majority: its restored state must be right.
    await tc.cluster.kill(other);
    const d = await tc.client({ serverId: victim });
    expect((await d.mget(Array.from({ length: 80 }, (_, i) => `k${i}`))).values).toEqual(Array.from({ length: 80 }, (_, i) => `v${i}`));
    expect((await d.put('after', 'y')).value).toBe('y');
    const size = statSync(path.join(tc.config.dataDir, victim, 'log.db')).size;
    expect(size).toBeLessThan(64 * 1024);
  });
});
