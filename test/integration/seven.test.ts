import { afterEach, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
afterEach(async () => {
  await tc?.teardown();
  tc = null;
});

describe('a real 7-server cluster', () => {
  it('survives kill -9 of three servers including the leader, and they catch up after a restart', async () => {
    tc = await startTestCluster(7);
    const cluster = tc.cluster;
    const leader = await cluster.waitForLeader(30_000);
    const first = await tc.client({ serverId: 'server0' });
    const last = await tc.client({ serverId: 'server6' });
    expect((await first.put('greeting', 'hello')).value).toBe('hello');
    expect((await last.get('greeting')).value).toBe('hello');
    for (let i = 0; i < 20; i++) await first.put(`before${i}`, String(i));

    // The leader and two others; server0 and server6 go too when they are not the leader,
    // so both clients must fail over.
    const victims = [leader, ...['server0', 'server6', 'server3'].filter((id) => id !== leader)].slice(0, 3);
    expect(new Set(victims).size).toBe(3);
    await Promise.all(victims.map((id) => cluster.kill(id)));
    for (const id of victims) expect(cluster.state(id)).toBe('down');

    // Four of seven is still a majority: a new leader, and writes keep succeeding.
    const next = await cluster.waitForLeader(30_000);
    expect(victims).not.toContain(next);
    const survivors = cluster.ids.filter((id) => !victims.includes(id));
    const statuses = await Promise.all(survivors.map((id) => cluster.status(id)));
    expect(statuses.every((s) => s.leaderId === next)).toBe(true);
    for (let i = 0; i < 20; i++) {
      const writer = i % 2 === 0 ? first : last;
      expect((await writer.put(`during${i}`, String(i))).value).toBe(String(i));
    }
    expect((await first.incr('counter')).value).toBe('1');
    expect((await last.get('before19')).value).toBe('19');

    // Restarted from their own logs, they rejoin and apply everything committed.
    await Promise.all(victims.map((id) => cluster.start(id)));
    await last.put('after-restart', 'yes');
    const now = await cluster.waitForLeader(30_000);
    const target = (await cluster.status(now)).commitIndex;
    await Promise.all(
      victims.map((id) => cluster.waitFor(id, (s) => s.appliedIndex >= target && s.leaderId === now, 30_000, `${id} to apply up to ${target}`)),
    );
    const all = await Promise.all(cluster.ids.map((id) => cluster.status(id)));
    for (const s of all) {
      expect(s.appliedIndex, s.serverId).toBeGreaterThanOrEqual(target);
      expect(s.leaderId, s.serverId).toBe(now);
    }

    // A client pointed at a restarted server (it forwards to the leader) sees every write.
    for (const id of victims) {
      const c = await tc.client({ serverId: id });
      expect((await c.mget(['greeting', 'during19', 'after-restart', 'counter'])).values).toEqual(['hello', '19', 'yes', '1']);
    }
  });
});
