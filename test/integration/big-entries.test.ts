import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BATCH_KEYS, MAX_COMMAND_BYTES, MAX_VALUE_BYTES } from '../../src/kv/command.ts';
import type { ClientError } from '../../src/client/kv-client.ts';
import { startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
afterEach(async () => {
  await tc?.teardown();
  tc = null;
});

// 65,536 NULs: 64 KiB as a client sends it, 393,216 bytes in the log's JSON (`\u0000`).
const NULS = '\u0000'.repeat(MAX_VALUE_BYTES);

describe('big entries', () => {
  it('a follower down while 180 puts of 64 KiB of NULs are made catches up after a restart', async () => {
    tc = await startTestCluster(3);
    const t = tc;
    const leader = await t.cluster.waitForLeader();
    const follower = t.cluster.ids.find((id) => id !== leader)!;
    const c = await t.client({ serverId: leader, opTimeoutMs: 60_000, attemptTimeoutMs: 20_000 });
    await t.cluster.kill(follower);
    // Ten at a time: the writes themselves are not what is measured.
    for (let i = 0; i < 180; i += 10) await Promise.all(Array.from({ length: 10 }, (_, k) => c.put(`nul${i + k}`, NULS)));
    const target = (await t.cluster.status(leader)).lastLogIndex;
    expect(target).toBeGreaterThanOrEqual(181);

    const restartedAt = Date.now();
    await t.cluster.start(follower);
    await t.cluster.waitFor(follower, (s) => s.lastLogIndex >= target && s.appliedIndex >= target, 60_000, `${follower} to catch up to ${target}`);
    const tookMs = Date.now() - restartedAt;
    console.log(`${follower} caught up 180 entries of 64 KiB of NULs (393 KB each encoded) in ${tookMs} ms`);

    // The leader counts it again, and it serves: with the leader gone, it and the third elect a new one.
    await t.cluster.kill(leader);
    const next = await t.cluster.waitForLeader(20_000);
    expect(next).not.toBe(leader);
    const reader = await t.client({ serverId: follower, opTimeoutMs: 30_000 });
    for (const i of [0, 89, 179]) expect((await reader.get(`nul${i}`)).value).toBe(NULS);
  }, 180_000);

  it('five concurrent mputs at the size limit, and five mgets of them, in one client turn', async () => {
    tc = await startTestCluster(3);
    const t = tc;
    const leader = await t.cluster.waitForLeader();
    const c = await t.client({ serverId: leader, opTimeoutMs: 90_000, attemptTimeoutMs: 60_000 });
    const text = 'x'.repeat(MAX_VALUE_BYTES);
    // 23 values of 64 KiB: the largest mput within MAX_COMMAND_BYTES (1.5 MiB).
    const perMput = 23;
    const keys = (k: number) => Array.from({ length: perMput }, (_, i) => `m${k}-${i}`);
    // One client turn: five calls on one Session stream, the Ready after them five entries at the limit.
    const t0 = Date.now();
    const puts = await Promise.all(Array.from({ length: 5 }, (_, k) => c.mput(keys(k).map((key) => ({ key, value: text })))));
    expect(puts.map((p) => p.value)).toEqual(Array(5).fill(String(perMput)));
    const t1 = Date.now();
    const gets = await Promise.all(Array.from({ length: 5 }, (_, k) => c.mget(keys(k))));
    console.log(`5 mputs of 1.5 MiB: ${t1 - t0} ms; 5 mgets: ${Date.now() - t1} ms`);
    expect(gets.every((g) => g.values!.length === perMput && g.values!.every((v) => v === text))).toBe(true);
    const target = (await t.cluster.status(leader)).commitIndex;
    await Promise.all(t.cluster.ids.map((id) => t.cluster.waitFor(id, (s) => s.appliedIndex >= target, 60_000, `${id} to apply ${target}`)));
  }, 180_000);

  it('refuses an operation too big for one Raft message at proposal, with the limit, and keeps serving', async () => {
    tc = await startTestCluster(3);
    const t = tc;
    const leader = await t.cluster.waitForLeader();
    const follower = t.cluster.ids.find((id) => id !== leader)!;
    const c = await t.client({ serverId: follower, opTimeoutMs: 60_000, attemptTimeoutMs: 30_000 });
    // Every value within the limits: 256 values of 64 KiB. As NULs that is 96 MiB of JSON.
    const pairs = Array.from({ length: MAX_BATCH_KEYS }, (_, i) => ({ key: `big${i}`, value: NULS }));
    const err = (await c.mput(pairs).then(
      () => null,
      (e: ClientError) => e,
    ))!;
    expect(err).not.toBeNull();
    expect(err.message).toMatch(/mput is [\d,]+ bytes once JSON-encoded for the log/);
    expect(err.message).toContain(`the limit is ${MAX_COMMAND_BYTES.toLocaleString('en-US')} bytes`);
    expect((await c.mget(['big0', 'big255'])).values).toEqual(['', '']);
    // The same in plain text is 16 MiB: refused too. At the limit (23 values) it commits and replicates.
    const text = 'x'.repeat(MAX_VALUE_BYTES);
    const plain = pairs.map((p) => ({ ...p, value: text }));
    const tooBig = await c.mput(plain).then(() => null, (e: ClientError) => e);
    expect(tooBig?.message).toContain(`the limit is ${MAX_COMMAND_BYTES.toLocaleString('en-US')} bytes`);
    const ok = await c.mput(plain.slice(0, 23));
    expect(ok.value).toBe('23');
    const target = (await t.cluster.status(leader)).commitIndex;
    await Promise.all(t.cluster.ids.map((id) => t.cluster.waitFor(id, (s) => s.appliedIndex >= target, 30_000, `${id} to apply ${target}`)));
    expect((await c.put('after', 'fine')).value).toBe('fine');
  }, 120_000);
});
