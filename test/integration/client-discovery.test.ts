import { afterEach, describe, expect, it } from 'vitest';
import { KvClient } from '../../src/client/kv-client.ts';
import { freePorts, startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
let client: KvClient | null = null;
afterEach(async () => {
  await client?.stop();
  await tc?.teardown();
  client = null;
  tc = null;
});

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a client learns the membership (Raft §6)', () => {
  it('given only a server that joined later, it finds the others and fails over to them', async () => {
    tc = await startTestCluster(3);
    const t = tc;
    const leader = await t.cluster.waitForLeader();
    const [port] = await freePorts(1);
    const addr = `127.0.0.1:${port}`;
    const added = t.cluster.adminOf(leader).memberAdd('server3', addr, false, 60_000);
    await until('server3 to be listed', async () => (await t.cluster.adminOf(leader).memberList()).members.some((m) => m.id === 'server3'));
    t.cluster.addServer('server3', addr);
    await t.cluster.start('server3', { args: ['--join', t.config.servers[0].addr] });
    expect((await added).ok).toBe(true);

    client = await KvClient.start({ clientId: 'finder', servers: [{ id: 'server3', addr }], attemptTimeoutMs: 500 });
    const known = await until('the client to know all 4 members', async () => {
      const ids = client!.knownServers().map((s) => s.id).sort();
      return ids.length === 4 ? ids : null;
    });
    expect(known).toEqual(['server0', 'server1', 'server2', 'server3']);
    expect((await client.put('k', 'v')).value).toBe('v');
    // Its only configured server dies: it goes on through the members it learned.
    await t.cluster.kill('server3');
    const after = await client.put('k', 'w');
    expect(after.value).toBe('w');
    expect(after.servedBy).not.toBe('server3');
  }, 60_000);
});
