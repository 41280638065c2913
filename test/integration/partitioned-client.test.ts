import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from './helpers.ts';

/**
 * A client whose server sits on the minority side of a partition must move to a server
 * that can reach a leader, not retry the cut-off one until its operation times out.
 */
describe('client on the minority side of a partition (real processes)', () => {
  let tc: TestCluster;
  beforeAll(async () => {
    tc = await startTestCluster(5);
  });
  afterAll(async () => {
    await tc?.teardown();
  });

  it('5 servers split 2|3 with the leader on the 3 side: writes through a minority server succeed, and after healing too', async () => {
    const leader = await tc.cluster.waitForLeader();
    const others = tc.cluster.ids.filter((id) => id !== leader);
    const minority = others.slice(0, 2);
    const majority = tc.cluster.ids.filter((id) => !minority.includes(id));
    const c = await tc.client({ serverId: minority[0], attemptTimeoutMs: 2000, opTimeoutMs: 15_000 });
    await c.put('k', 'before');
    await tc.cluster.partition([minority, majority]);
    try {
      // Once the minority side has given up on the leader, its servers know none.
      for (const id of minority) await tc.cluster.waitFor(id, (s) => !s.leaderId, 10_000, `${id} to lose the leader`);
      for (let i = 0; i < 5; i++) {
        const out = await c.put('k', `during ${i}`);
        expect(majority).toContain(out.servedBy);
      }
      expect((await c.get('k')).value).toBe('during 4');
    } finally {
      await tc.cluster.heal();
    }
    await c.put('k', 'after');
    // A client that starts on the healed minority server reads the newest value.
    const d = await tc.client({ serverId: minority[1], opTimeoutMs: 15_000 });
    expect((await d.get('k')).value).toBe('after');
  });
});
