import { afterEach, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
afterEach(async () => {
  await tc?.teardown();
  tc = null;
});

describe('the data quota (memory.quotaBytes, as etcd --quota-backend-bytes)', () => {
  it('refuses writes that grow the data once it is reached, with a clear error; deletes free space and writes work again', async () => {
    tc = await startTestCluster(3, (c) => ({ ...c, memory: { ...c.memory, quotaBytes: 2000 } }));
    await tc.cluster.waitForLeader();
    const c = await tc.client({ serverId: 'server1' });
    const value = 'x'.repeat(998);
    await c.put('a', value);
    await c.put('b', value);
    // 2 x (1 + 998) = 1998 bytes: under the quota, so one more write is taken.
    await c.put('c', value);
    const refused = await c.put('d', 'y').catch((err: Error & { outcome?: { errorKind?: string } }) => err);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toMatch(/quota \(memory.quotaBytes\) is 2,000: delete keys or raise the quota; nothing was applied/);
    expect((refused as { outcome?: { errorKind?: string } }).outcome?.errorKind).toBe('refused');
    expect((await c.get('d')).value).toBe('');
    expect((await c.get('a')).value).toBe(value);
    await c.delete('a');
    await c.delete('b');
    expect((await c.put('d', 'y')).value).toBe('y');
  });
});
