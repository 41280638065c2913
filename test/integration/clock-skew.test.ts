import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from './helpers.ts';

const SKEW = fileURLToPath(new URL('./fixtures/skew-clock.ts', import.meta.url));
const FAST_MS = 600_000;

/**
 * TTLs must not be hostage to one server's clock: a leader whose clock runs ten minutes
 * fast writes and dies; through the next leader (a true clock) a fresh key with a 60 s
 * TTL must live, and a 1 s TTL must still expire.
 */
describe('expiry with skewed clocks (real processes)', () => {
  let tc: TestCluster;
  const saved = process.env.RAFTKV_TEST_CLOCK_SKEW;

  beforeAll(async () => {
    process.env.RAFTKV_TEST_CLOCK_SKEW = JSON.stringify({ server0: FAST_MS });
    tc = await startTestCluster(3, (c) => c, { preload: [SKEW] });
  });

  afterAll(async () => {
    await tc?.teardown();
    if (saved === undefined) delete process.env.RAFTKV_TEST_CLOCK_SKEW;
    else process.env.RAFTKV_TEST_CLOCK_SKEW = saved;
  });

  it('a leader 600 s fast writes and dies; the next leader keeps a 60 s TTL alive and expires a 1 s one', async () => {
    // Make the fast server the leader: restart whichever other server leads (bounded).
    let leader = await tc.cluster.waitForLeader();
    for (let k = 0; k < 12 && leader !== 'server0'; k++) {
      await tc.cluster.restart(leader);
      leader = await tc.cluster.waitForLeader();
    }
    expect(leader, 'server0 never became leader in 12 tries').toBe('server0');
    const viaFast = await tc.client({ serverId: 'server0' });
    await viaFast.put('before', 'written by the fast leader');

    await tc.cluster.kill('server0');
    const next = await tc.cluster.waitForLeader();
    expect(next).not.toBe('server0');
    const c = await tc.client({ servers: tc.config.servers.filter((s) => s.id !== 'server0'), serverId: next });
    expect((await c.get('before')).value).toBe('written by the fast leader');
    await c.put('session', 'alive');
    expect((await c.expire('session', 60)).value).toBe('1');
    expect((await c.get('session')).value).toBe('alive');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await c.get('session')).value).toBe('alive');

    // The other way round: a short TTL still runs out (log time is not stuck either).
    await c.put('short', 'soon gone');
    expect((await c.expire('short', 1)).value).toBe('1');
    expect((await c.get('short')).value).toBe('soon gone');
    await new Promise((r) => setTimeout(r, 1600));
    expect((await c.get('short')).value).toBe('');
  });
});
