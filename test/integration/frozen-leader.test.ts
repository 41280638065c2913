import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from './helpers.ts';

/**
 * A frozen leader (SIGSTOP) keeps its TCP connections open, so nothing breaks and a
 * forwarded request would hang until the caller's deadline. A follower that sees the
 * cluster elect someone else must give up on the frozen one at once.
 */
describe('frozen leader (real processes)', () => {
  let tc: TestCluster;
  beforeAll(async () => {
    tc = await startTestCluster(3);
  });
  afterAll(async () => {
    await tc?.teardown();
  });

  it('a write through a follower completes soon after a new leader is elected, not after the caller deadline', async () => {
    const leader = await tc.cluster.waitForLeader();
    const follower = tc.config.servers.find((s) => s.id !== leader)!.id;
    // Long attempts: the client's own failover is not what rescues this write.
    const c = await tc.client({ serverId: follower, followLeader: false, attemptTimeoutMs: 8000, opTimeoutMs: 20_000 });
    await c.put('warm', 'up');
    tc.cluster.pause(leader);
    try {
      const started = Date.now();
      const out = await c.put('k', 'after the freeze');
      const tookMs = Date.now() - started;
      expect(out.value).toBe('after the freeze');
      // Served by the new leader: one of the two that stayed up.
      expect(out.servedBy).not.toBe(leader);
      // Before the fix the forward waited commitTimeoutMs + 1 s (4 s); an election takes
      // 250-500 ms here. The bound is loose on purpose: this is not a benchmark.
      expect(tookMs).toBeLessThan(3000);
      expect((await c.get('k')).value).toBe('after the freeze');
    } finally {
      tc.cluster.resume(leader);
    }
  });
});
