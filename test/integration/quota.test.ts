import { afterEach, describe, expect, it } from 'vitest';
import { ClientError } from '../../src/client/kv-client.ts';
import { startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
afterEach(async () => {
  await tc?.teardown();
  tc = null;
});

describe('the data quota (memory.quotaBytes, as etcd --quota-backend-bytes)', () => {
  it('refuses a write that would pass it, with a clear error; deletes free space and writes work again', async () => {
    tc = await startTestCluster(3, (c) => ({ ...c, memory: { ...c.memory, quotaBytes: 2000 } }));
    await tc.cluster.waitForLeader();
    const c = await tc.client({ serverId: 'server1' });
    const value = 'x'.repeat(998);
    await c.put('a', value);
    // 2 x (1 + 998) = 1998 bytes: within the quota.
    await c.put('b', value);
    const refused = await c.put('c', value).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ClientError);
    expect((refused as ClientError).message).toMatch(/holds 1,998 bytes of keys and values \(with writes under way\) and this write adds up to 999; the quota \(memory.quotaBytes\) is 2,000: delete keys or raise the quota/);
    expect((refused as ClientError).outcome.errorKind).toBe('refused');
    expect((await c.get('c')).value).toBe('');
    expect((await c.get('a')).value).toBe(value);
    await c.delete('a');
    expect((await c.put('c', value)).value).toBe(value);
  });

  it('counts writes under way: a burst of concurrent puts cannot overshoot it', async () => {
    tc = await startTestCluster(3, (c) => ({ ...c, memory: { ...c.memory, quotaBytes: 2000 } }));
    const leader = await tc.cluster.waitForLeader();
    const c = await tc.client({ serverId: leader });
    // 20 puts of 2 + 498 bytes on 20 keys at once: 4 fit.
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => c.put(`${String.fromCharCode(97 + i)}k`, 'y'.repeat(498)).then(() => 'ok', (e: ClientError) => e.outcome.errorKind)));
    const accepted = results.filter((r) => r === 'ok').length;
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThanOrEqual(4);
    expect(results.filter((r) => r !== 'ok').every((r) => r === 'refused')).toBe(true);
    const st = await tc.cluster.status(leader);
    expect(st.appliedIndex).toBeLessThanOrEqual(1 + 4);
  });
});
