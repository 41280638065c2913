import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KvClient } from '../../src/client/kv-client.ts';
import { startTestCluster, type TestCluster } from '../integration/helpers.ts';

/**
 * One-way link cuts on real server processes (SetBlockedPeers' inbound/outbound lists,
 * driven by ProcessCluster.cutLinks): "the leader does not hear follower F" leaves F
 * hearing the leader, so F applies every committed entry while the leader never learns
 * F's progress; healing it lets the leader hear F again.
 */
let tc: TestCluster;
let client: KvClient;

beforeAll(async () => {
  tc = await startTestCluster(3);
  await tc.cluster.waitForLeader();
});

afterAll(async () => {
  await tc?.teardown();
});

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe('one-way cuts', () => {
  it('cuts one direction only, and heals', async () => {
    const leader = await tc.cluster.waitForLeader();
    const [f] = tc.cluster.ids.filter((id) => id !== leader).sort();
    client = await tc.client({ serverId: leader });
    await client.put('a', '0');
    await tc.cluster.cutLinks([[f, leader]]);
    const marked = await tc.cluster.status(f);
    expect(marked.peers.find((p) => p.id === leader)?.blocked).toBe(true);
    const frozenMatch = (await tc.cluster.status(leader)).peers.find((p) => p.id === f)!.matchIndex;
    for (let i = 1; i <= 20; i++) await client.put('a', String(i));
    const lead = await tc.cluster.status(leader);
    // f hears the leader: it applies everything the leader committed.
    await until(`${f} to apply index ${lead.commitIndex}`, async () => ((await tc.cluster.status(f)).appliedIndex >= lead.commitIndex ? true : null));
    // The leader does not hear f: its matchIndex for f has not moved (its acks are dropped).
    const after = await tc.cluster.status(leader);
    expect(after.role).toBe('leader');
    expect(after.peers.find((p) => p.id === f)!.matchIndex).toBe(frozenMatch);
    expect(tc.cluster.cutsInForce()).toEqual([[f, leader]]);

    await tc.cluster.heal();
    await until(`the leader to hear ${f} again`, async () => {
      const s = await tc.cluster.status(leader);
      return s.peers.find((p) => p.id === f)!.matchIndex >= lead.commitIndex ? true : null;
    });
    expect((await tc.cluster.status(f)).peers.find((p) => p.id === leader)?.blocked).toBe(false);
  });
});
