import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerExit } from '../../src/cluster/process-cluster.ts';
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
  await t.cluster.start(id, { args: ['--join', t.config.servers.find((s) => s.id === leader)!.addr] });
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

  it('removes a follower: it logs its removal and exits 0; the cluster keeps serving', async () => {
    const exits = new Map<string, ServerExit>();
    tc = await startTestCluster(3, undefined, { onExit: (id, e) => exits.set(id, e) });
    const leader = await tc.cluster.waitForLeader();
    const victim = tc.config.servers.map((s) => s.id).find((id) => id !== leader)!;
    const c = await tc.client({ serverId: leader });
    await c.put('a', '1');
    const res = await tc.cluster.adminOf(leader).memberRemove(victim);
    expect(res.error).toBe('');
    expect(res.ok).toBe(true);
    expect(Object.keys(roles(res.members!)).sort()).toEqual(tc.config.servers.map((s) => s.id).filter((id) => id !== victim).sort());
    await eventually(`${victim} to exit`, async () => tc!.cluster.state(victim) === 'down');
    expect(exits.get(victim)).toMatchObject({ code: 0, signal: null, requested: false });
    expect(readFileSync(tc.cluster.logFile(victim), 'utf8')).toMatch(new RegExp(`${victim}: removed from the cluster at index \\d+( \\(as server\\d says\\))?; stopping`));
    expect((await c.put('b', '2')).value).toBe('2');
    // Two voters now: both are needed, and they serve.
    const st = await tc.cluster.status(leader);
    expect(st.peers.map((p) => p.id)).not.toContain(victim);
    // Any server answers NOT_LEADER with the leader; a non-member is INVALID on the leader.
    const follower = tc.config.servers.map((s) => s.id).find((id) => id !== leader && id !== victim)!;
    const nl = await tc.cluster.adminOf(follower).memberRemove(leader);
    expect(nl).toMatchObject({ ok: false, code: 'NOT_LEADER', leaderId: leader });
    expect(await tc.cluster.adminOf(leader).memberRemove(victim)).toMatchObject({ ok: false, code: 'INVALID' });
    // A removed id is never taken back.
    const again = await tc.cluster.adminOf(leader).memberAdd(victim, '127.0.0.1:1', true);
    expect(again).toMatchObject({ ok: false, code: 'INVALID' });
    expect(again.error).toMatch(/was removed/);
  });

  it('removes the leader: it hands leadership over first, then the new leader removes it and serves', async () => {
    tc = await startTestCluster(3);
    const old = await tc.cluster.waitForLeader();
    const c = await tc.client();
    await c.put('a', '1');
    const first = await tc.cluster.adminOf(old).memberRemove(old);
    expect(first).toMatchObject({ ok: false, code: 'NOT_LEADER' });
    const successor = first.leaderId;
    expect(successor).not.toBe(old);
    expect(successor).not.toBe('');
    const res = await tc.cluster.adminOf(successor).memberRemove(old);
    expect(res.error).toBe('');
    expect(res.ok).toBe(true);
    await eventually(`${old} to exit`, async () => tc!.cluster.state(old) === 'down');
    expect(await tc.cluster.waitForLeader()).toBe(successor);
    expect((await c.put('b', '2')).value).toBe('2');
    expect((await c.get('a')).value).toBe('1');
  });

  it('transfers leadership to a chosen follower', async () => {
    tc = await startTestCluster(3);
    const old = await tc.cluster.waitForLeader();
    const target = tc.config.servers.map((s) => s.id).find((id) => id !== old)!;
    const c = await tc.client();
    await c.put('a', '1');
    const res = await tc.cluster.adminOf(old).transferLeader(target);
    expect(res.error).toBe('');
    expect(res.ok).toBe(true);
    expect(await tc.cluster.waitForLeader()).toBe(target);
    expect((await c.put('b', '2')).value).toBe('2');
    // To a non-member: INVALID; from a follower: NOT_LEADER.
    expect(await tc.cluster.adminOf(target).transferLeader('nobody')).toMatchObject({ ok: false, code: 'INVALID' });
    expect(await tc.cluster.adminOf(old).transferLeader(target)).toMatchObject({ ok: false, code: 'NOT_LEADER', leaderId: target });
  });

  it('refuses a duplicate id or address, and promoting a learner that lags', async () => {
    tc = await startTestCluster(3);
    const leader = await tc.cluster.waitForLeader();
    const admin = tc.cluster.adminOf(leader);
    expect(await admin.memberAdd('server1', '127.0.0.1:1', false)).toMatchObject({ ok: false, code: 'INVALID' });
    expect(await admin.memberAdd('server9', tc.config.servers[1].addr, false)).toMatchObject({ ok: false, code: 'INVALID' });
    expect(await admin.memberAdd('../x', '127.0.0.1:1', false)).toMatchObject({ ok: false, code: 'INVALID' });
    expect(await admin.memberAdd('server9', 'nowhere', false)).toMatchObject({ ok: false, code: 'INVALID' });
    // A learner that was never started lags by the whole log: more than 1,000 entries.
    const [port] = await freePorts(1);
    const added = await admin.memberAdd('server9', `127.0.0.1:${port}`, true);
    expect(added.ok).toBe(true);
    expect(roles(added.members!).server9).toBe('learner');
    await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      const cw = await tc!.client();
      for (let i = 0; i < 260; i++) await cw.put(`w${w}-${i}`, 'x');
    }));
    const refused = await admin.memberPromote('server9');
    expect(refused).toMatchObject({ ok: false, code: 'INVALID' });
    expect(refused.error).toMatch(/has not caught up/);
    // Adding (without --learner) one that never catches up: TIMEOUT, and it stays a learner.
    const [port2] = await freePorts(1);
    const pending = admin.memberAdd('server8', `127.0.0.1:${port2}`, false, 2500);
    await sleep(300);
    // Meanwhile another change (or a transfer) is BUSY: one at a time.
    const busy = await admin.memberRemove('server9');
    expect(busy).toMatchObject({ ok: false, code: 'BUSY' });
    expect(await admin.transferLeader('')).toMatchObject({ ok: false, code: 'BUSY' });
    const slow = await pending;
    expect(slow).toMatchObject({ ok: false, code: 'TIMEOUT' });
    expect(slow.error).toMatch(/stays a learner/);
    expect(roles(await admin.memberList())).toMatchObject({ server8: 'learner', server9: 'learner' });
  });

  it('a removed server restarted from its old log cannot disrupt: its term does not spread', async () => {
    tc = await startTestCluster(3);
    const leader = await tc.cluster.waitForLeader();
    const victim = tc.config.servers.map((s) => s.id).find((id) => id !== leader)!;
    // Removed while down: its log never holds the change, so it believes it still votes.
    await tc.cluster.kill(victim);
    const res = await tc.cluster.adminOf(leader).memberRemove(victim);
    expect(res.ok).toBe(true);
    const before = await tc.cluster.status(leader);
    await tc.cluster.start(victim);
    await sleep(3000);
    const after = await tc.cluster.status(leader);
    expect(after.role).toBe('leader');
    expect(after.term).toBe(before.term);
    const c = await tc.client({ serverId: leader });
    expect((await c.put('x', '1')).value).toBe('1');
    const log = readFileSync(tc.cluster.logFile(victim), 'utf8');
    expect(log).toMatch(/refuses this server's Raft messages \(refused: .* was removed from the cluster at index \d+/);
    // Told so by a member (which applied the committed removal), it stops too.
    expect(log).toMatch(/removed from the cluster at index \d+ \(as server\d says\); stopping/);
    await eventually(`${victim} to stop`, async () => tc!.cluster.state(victim) === 'down');
  });

  it('the membership (with the added server\'s address) survives snapshots and a restart of every server', async () => {
    const SMALL = { snapshotCount: 20, catchUpEntries: 5 };
    tc = await startTestCluster(3, (c) => ({ ...c, compaction: SMALL }));
    const c = await tc.client();
    for (let i = 0; i < 60; i++) await c.put(`k${i}`, `v${i}`);
    // The leader compacted its log: server3 gets a snapshot, and the membership in it.
    const { addr, added } = await addAndJoin(tc, 'server3', false);
    expect((await added).ok).toBe(true);
    const leader = await tc.cluster.waitForLeader();
    const victim = ['server0', 'server1', 'server2'].find((id) => id !== leader)!;
    expect((await tc.cluster.adminOf(leader).memberRemove(victim)).ok).toBe(true);
    await eventually(`${victim} to exit`, async () => tc!.cluster.state(victim) === 'down');
    // Enough writes that every snapshot is taken after the config entries, which the logs then drop.
    for (let i = 0; i < 80; i++) await c.put(`m${i}`, `v${i}`);
    const alive = ['server0', 'server1', 'server2', 'server3'].filter((id) => id !== victim);
    const last = (await tc.cluster.status(leader)).commitIndex;
    for (const id of alive) {
      const st = await tc.cluster.waitFor(id, (s) => s.appliedIndex >= last, 10_000, `${id} to apply ${last}`);
      expect(st.firstLogIndex, id).toBeGreaterThan(70);
    }
    for (const id of alive) await tc.cluster.kill(id);
    for (const id of alive) await tc.cluster.start(id);
    await tc.cluster.waitForLeader();
    for (const id of alive) {
      const l = await tc.cluster.adminOf(id).memberList();
      expect(roles(l), id).toEqual(Object.fromEntries(alive.map((m) => [m, 'voter'])));
      expect(l.members.find((m) => m.id === 'server3')!.addr, id).toBe(addr);
    }
    // server3's vote is needed (one original down): the others dial it at its address from the snapshot.
    const original = alive.find((id) => id !== 'server3')!;
    await tc.cluster.kill(original);
    const d = await tc.client({ serverId: alive.find((id) => id !== 'server3' && id !== original)! });
    expect((await d.put('after', 'restart')).value).toBe('restart');
    expect((await d.get('k0')).value).toBe('v0');
    // The removed server, restarted, finds its removal in its own log or snapshot and stops.
    await tc.cluster.start(victim).catch(() => undefined);
    await eventually(`${victim} to stop again`, async () => tc!.cluster.state(victim) === 'down');
    expect(readFileSync(tc.cluster.logFile(victim), 'utf8').match(/removed from the cluster at index \d+( \(as server\d says\))?; stopping/g)?.length).toBe(2);
  });

  it('a member that was down while a server was added and became leader catches up from it', async () => {
    tc = await startTestCluster(3);
    const leader = await tc.cluster.waitForLeader();
    const lagging = tc.config.servers.map((s) => s.id).find((id) => id !== leader)!;
    const c = await tc.client({ serverId: leader });
    await c.put('before', '1');
    await tc.cluster.kill(lagging);
    const { added } = await addAndJoin(tc, 'server3', false);
    const res = await added;
    expect(res.error).toBe('');
    expect(res.ok).toBe(true);
    const moved = await tc.cluster.adminOf(leader).transferLeader('server3');
    expect(moved.error).toBe('');
    expect(moved.ok).toBe(true);
    await c.put('after', '2');
    // Its log has never heard of server3, which now leads and sends it the entries.
    await tc.cluster.start(lagging);
    const target = (await tc.cluster.status('server3')).commitIndex;
    await tc.cluster.waitFor(lagging, (s) => s.appliedIndex >= target && s.leaderId === 'server3', 15_000, `${lagging} to catch up from server3`);
    expect(roles(await tc.cluster.adminOf(lagging).memberList()).server3).toBe('voter');
    // It looked server3's address up from a member (its log did not have it yet) and answers it.
    expect(readFileSync(tc.cluster.logFile(lagging), 'utf8')).not.toMatch(/refuses|fatal/);
    const d = await tc.client({ serverId: lagging });
    expect((await d.get('after')).value).toBe('2');
  });
});
