import { afterEach, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
afterEach(async () => {
  await tc?.teardown();
  tc = null;
});

describe('a real 3-server cluster', () => {
  it('a put on one server is read from another', async () => {
    tc = await startTestCluster(3);
    await tc.cluster.waitForLeader();
    const a = await tc.client({ serverId: 'server0' });
    const b = await tc.client({ serverId: 'server2' });
    const put = await a.put('k1', 'v1');
    expect(put.value).toBe('v1');
    const got = await b.get('k1');
    expect(got.value).toBe('v1');
    expect((await b.get('never-written')).value).toBe('');
    expect((await a.incr('n')).value).toBe('1');
    expect((await b.incr('n')).value).toBe('2');
    await a.mput([{ key: 'x', value: '1' }, { key: 'y', value: '2' }]);
    expect((await b.mget(['x', 'y', 'z'])).values).toEqual(['1', '2', '']);
    expect((await a.delete('x')).value).toBe('1');
    expect((await b.get('x')).value).toBe('');
  });

  it('kill -9 the leader: the followers see its links break and elect a new one well inside the election timeout', async () => {
    // Election timeouts of 6-12 s: a new leader before the minimum can only come from the
    // broken links (noticed within half an election timeout, 0.3-3.3 s here). Wide on
    // purpose, so a loaded machine's slow status polls cannot blur the two.
    tc = await startTestCluster(3, (c) => ({ ...c, timing: { tickMs: 300, electionTick: 20, heartbeatTick: 2 } }));
    const old = await tc.cluster.waitForLeader(30_000);
    const followers = tc.config.servers.map((s) => s.id).filter((id) => id !== old);
    // Followers hold a stream to the leader once they have answered its heartbeats.
    for (const f of followers) await tc.cluster.waitFor(f, (s) => s.leaderId === old, 10_000, `${f} to follow ${old}`);
    const killedAt = Date.now();
    await tc.cluster.kill(old);
    const next = await tc.cluster.waitForLeader(10_000);
    const tookMs = Date.now() - killedAt;
    expect(followers).toContain(next);
    expect(tookMs).toBeLessThan(6000);
  });

  it('kill -9 the leader and keep writing; it catches up after a restart', async () => {
    tc = await startTestCluster(3);
    const leader = await tc.cluster.waitForLeader();
    const other = tc.config.servers.find((s) => s.id !== leader)!.id;
    const c = await tc.client({ serverId: other });
    for (let i = 0; i < 10; i++) await c.put(`before${i}`, String(i));
    const killedAt = Date.now();
    await tc.cluster.kill(leader);
    await c.put('after', 'yes');
    const failoverMs = Date.now() - killedAt;
    expect(failoverMs).toBeLessThan(5_000);
    const next = await tc.cluster.waitForLeader();
    expect(next).not.toBe(leader);
    await tc.cluster.start(leader);
    const target = (await tc.cluster.status(next)).commitIndex;
    await tc.cluster.waitFor(leader, (s) => s.appliedIndex >= target && s.leaderId === next, 10_000, `${leader} to catch up`);
    expect((await c.get('before9')).value).toBe('9');
  });

  it('kill -9 every server, restart all: every acknowledged write is there', async () => {
    tc = await startTestCluster(3);
    await tc.cluster.waitForLeader();
    const c = await tc.client();
    const acked: string[] = [];
    // Some values hold characters NeDB's loader takes for line ends (JSON leaves them as
    // they are): a restart must read them back, not refuse the log as corrupt.
    const value = (i: number) => `value${i}${['', '\u2028', '\u2029', '\u0085'][i % 4]}`;
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        c.put(`key${i}`, value(i)).then(() => {
          acked.push(`key${i}`);
        }),
      ),
    );
    await Promise.all(tc.config.servers.map((s) => tc!.cluster.kill(s.id)));
    await Promise.all(tc.config.servers.map((s) => tc!.cluster.start(s.id)));
    await tc.cluster.waitForLeader();
    const d = await tc.client();
    expect(acked).toHaveLength(40);
    const values = await d.mget(acked);
    expect(values.values).toEqual(acked.map((k) => value(Number(k.slice(3)))));
  });

  it('a partitioned leader that logged uncommitted entries has them overwritten', async () => {
    tc = await startTestCluster(3, (c) => ({ ...c, commitTimeoutMs: 500 }));
    const old = await tc.cluster.waitForLeader();
    const rest = tc.config.servers.map((s) => s.id).filter((id) => id !== old);
    const c = await tc.client({ serverId: old });
    await c.put('shared', 'committed');
    await tc.cluster.partition([[old], rest]);
    const lonely = await tc.client({ serverId: old, servers: tc.config.servers.filter((s) => s.id === old), opTimeoutMs: 800 });
    await expect(lonely.put('ghost', 'never-committed')).rejects.toThrow();
    await lonely.stop();
    const before = await tc.cluster.status(old);
    expect(before.lastLogIndex).toBeGreaterThan(before.commitIndex);
    const next = await waitForLeaderAmong(tc, rest);
    const d = await tc.client({ serverId: next });
    for (let i = 0; i < 5; i++) await d.put(`new${i}`, String(i));
    await tc.cluster.heal();
    const leaderStatus = await tc.cluster.status(next);
    const after = await tc.cluster.waitFor(old, (s) => s.appliedIndex >= leaderStatus.commitIndex && s.leaderId === next, 10_000, `${old} to rejoin`);
    expect(after.term).toBeGreaterThan(before.term);
    expect((await d.get('ghost')).value).toBe('');
    expect((await d.get('shared')).value).toBe('committed');
  });
});

async function waitForLeaderAmong(tc: TestCluster, ids: string[]): Promise<string> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const st = await Promise.all(ids.map((id) => tc.cluster.status(id).catch(() => null)));
    const leader = st.find((s) => s?.role === 'leader');
    if (leader) return leader.serverId;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no leader among ${ids.join(', ')}`);
}
