import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { WireAdminResult, WireMemberList } from '../../src/transport/wire.ts';
import { freePorts, startTestCluster, type TestCluster } from './helpers.ts';

/**
 * Membership change on real server processes (Raft §6, thesis ch. 4): members added as
 * learners with their address in the config entry's context, promoted through joint
 * consensus, removed (a removed server stops), and leadership transfer (thesis §3.10).
 */

let tc: TestCluster | null = null;
afterEach(async () => {
  await tc?.teardown();
  tc = null;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond` holds (or throws after `ms`). */
async function eventually<T>(what: string, f: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const roles = (l: WireMemberList) => Object.fromEntries(l.members.map((m) => [m.id, m.learner ? 'learner' : m.outgoing ? 'leaving' : 'voter']));

/** Adds `id` (a fresh port) to the running cluster as a learner, starts it with --join, and returns its address. */
async function addAndJoin(t: TestCluster, id: string, learner: boolean): Promise<{ addr: string; added: Promise<WireAdminResult> }> {
  const [port] = await freePorts(1);
  const addr = `127.0.0.1:${port}`;
  const leader = await t.cluster.waitForLeader();
  const added = t.cluster.adminOf(leader).memberAdd(id, addr, learner, 60_000);
  // The learner's entry commits first; the server can join once a member lists it.
  await eventually(`${id} to be listed`, async () => (await t.cluster.adminOf(leader).memberList()).members.some((m) => m.id === id));
  t.cluster.addServer(id, addr);
  await t.cluster.start(id, { args: ['--join', t.config.servers[0].addr] });
  return { addr, added };
}

describe('membership change on real servers (Raft §6)', () => {
  it('adds a 4th server: learner, caught up, promoted; its vote then counts', async () => {
    tc = await startTestCluster(3);
    const c = await tc.client();
    for (let i = 0; i < 50; i++) await c.put(`k${i}`, `v${i}`);
    const { addr, added } = await addAndJoin(tc, 'server3', false);
    const res = await added;
    expect(res.error).toBe('');
    expect(res.ok).toBe(true);
    expect(roles(res.members!)).toEqual({ server0: 'voter', server1: 'voter', server2: 'voter', server3: 'voter' });
    expect(res.members!.members.find((m) => m.id === 'server3')!.addr).toBe(addr);
    // Every server lists it, with its address (replicated in the config entry's context).
    for (const id of ['server0', 'server1', 'server2', 'server3']) {
      const l = await eventually(`${id} to list server3 as a voter`, async () => {
        const list = await tc!.cluster.adminOf(id).memberList();
        return roles(list).server3 === 'voter' && !list.joint ? list : null;
      });
      expect(l.members.find((m) => m.id === 'server3')!.addr).toBe(addr);
    }
    const st = await tc.cluster.waitFor('server3', (s) => s.appliedIndex >= 50, 10_000, 'server3 to apply the puts');
    expect(st.peers.map((p) => p.id).sort()).toEqual(['server0', 'server1', 'server2']);
    // It counts: with server3 and one original down, 2 of 4 voters are up, no majority...
    const leader = await tc.cluster.waitForLeader();
    const other = ['server0', 'server1', 'server2'].find((id) => id !== leader)!;
    await tc.cluster.kill('server3');
    await tc.cluster.kill(other);
    const d = await tc.client({ serverId: leader, opTimeoutMs: 2000, attemptTimeoutMs: 1000 });
    const blocked = await d.put('needs-4', 'x').catch((e: Error) => e);
    expect(blocked).toBeInstanceOf(Error);
    // ...and server3 back (restarted without --join: it recorded how it joined) makes 3 of 4.
    await tc.cluster.start('server3');
    const e = await tc.client({ serverId: leader });
    expect((await e.put('needs-4', 'y')).value).toBe('y');
    expect(readFileSync(tc.cluster.logFile('server3'), 'utf8')).toContain('joining the cluster of');
  });
});
