import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerExit } from '../../src/cluster/process-cluster.ts';
import { freePorts, killCliChildren, runRaftkv, startTestCluster, type TestCluster } from '../integration/helpers.ts';

/** `raftkv member ...`, `raftkv leader transfer` and `raftkv node --join` as an operator runs them (Raft §6). */

let tc: TestCluster | null = null;
afterEach(async () => {
  killCliChildren();
  await tc?.teardown();
  tc = null;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('raftkv member / leader: usage errors (exit 2)', () => {
  it('refuses malformed commands before asking any server', async () => {
    for (const [args, message] of [
      [['member'], 'member takes "list"'],
      [['member', 'add', 'server9'], 'member add takes <serverId> <host:port>'],
      [['member', 'add', '../x', '127.0.0.1:1'], 'member add: the server id must be'],
      [['member', 'add', 'server9', 'nowhere'], 'the address must be host:port'],
      [['member', 'remove', '--learner', 'x'], '--learner goes with member add only'],
      [['leader'], 'leader takes "transfer [<serverId>]"'],
      [['leader', 'transfer', 'a', 'b'], 'leader transfer takes at most one server id'],
      [['node', '--id', 'x', '--join', 'nowhere'], '--join needs the host:port'],
    ] as const) {
      const r = await runRaftkv([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(message);
    }
  });
});

describe('raftkv member / leader on a running cluster', () => {
  it('list, add --learner, join, promote, transfer, remove the leader; refusals', async () => {
    const exits = new Map<string, ServerExit>();
    tc = await startTestCluster(3, undefined, { onExit: (id, e) => exits.set(id, e) });
    const config = path.join(tc.dir, 'cluster.json');
    const leader = await tc.cluster.waitForLeader();

    const list = await runRaftkv(['member', 'list', '--config', config]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+ADDRESS\s+ROLE\s+MATCH/);
    expect(list.stdout).toContain(`${leader}  `);
    expect(list.stdout).toMatch(/voter \(leader\)/);

    // Not in the config and never added: refused with what to do.
    const stranger = await runRaftkv(['node', '--id', 'server7', '--config', config]);
    expect(stranger.code).toBe(2);
    expect(stranger.stderr).toContain('no server "server7" in the config');
    expect(stranger.stderr).toContain('raftkv member add server7 <host:port>');
    const early = await runRaftkv(['node', '--id', 'server7', '--config', config, '--join', tc.config.servers[0].addr]);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('server7 is not a member of the cluster');
    expect(early.stderr).toContain('raftkv member add server7');

    const [port] = await freePorts(1);
    const addr = `127.0.0.1:${port}`;
    const add = await runRaftkv(['member', 'add', 'server3', addr, '--learner', '--config', config]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain(`added server3 (${addr}) as a learner`);
    expect(add.stdout).toMatch(/server3\s+127\.0\.0\.1:\d+\s+learner/);
    const dup = await runRaftkv(['member', 'add', 'server3', '127.0.0.1:1', '--config', config]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('INVALID: server3 is already a member');

    tc.cluster.addServer('server3', addr);
    await tc.cluster.start('server3', { args: ['--join', tc.config.servers[1].addr] });
    await tc.cluster.waitFor('server3', (s) => s.appliedIndex > 0 && s.leaderId !== '', 10_000, 'server3 to catch up');
    // status lists the member the config file does not know.
    const status = await runRaftkv(['status', '--config', config]);
    expect(status.stdout).toMatch(new RegExp(`server3\\s+${addr.replace(/\./g, '\\.')}\\s+follower`));
    // A client command reaches it by id, though the config file does not list it.
    expect(await runRaftkv(['put', 'via', 'server3', '--config', config, '--server', 'server3'])).toMatchObject({ code: 0 });
    const unknown = await runRaftkv(['get', 'via', '--config', config, '--server', 'server9']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--server server9 is neither in the config (servers: server0, server1, server2) nor a member the cluster lists');
    let promote = await runRaftkv(['member', 'promote', 'server3', '--config', config]);
    for (let i = 0; i < 10 && promote.code !== 0; i++) {
      await sleep(300);
      promote = await runRaftkv(['member', 'promote', 'server3', '--config', config]);
    }
    expect(promote.code, promote.stderr).toBe(0);
    expect(promote.stdout).toContain('promoted server3 to voter');

    const transfer = await runRaftkv(['leader', 'transfer', 'server3', '--config', config]);
    expect(transfer.code, transfer.stderr).toBe(0);
    expect(transfer.stdout).toContain('leader: server3');
    expect(await tc.cluster.waitForLeader()).toBe('server3');

    // The leader itself: it hands over, and the CLI asks the new leader (the config file does not list server3).
    const remove = await runRaftkv(['member', 'remove', 'server3', '--config', config]);
    expect(remove.code, remove.stderr).toBe(0);
    expect(remove.stdout).toMatch(/server3 handed leadership to server\d; asking it to remove server3/);
    expect(remove.stdout).toContain('removed server3');
    const deadline = Date.now() + 10_000;
    while (!exits.has('server3') && Date.now() < deadline) await sleep(50);
    expect(exits.get('server3')).toMatchObject({ code: 0, requested: false });

    const after = await runRaftkv(['member', 'list', '--config', config]);
    expect(after.stdout).not.toContain('server3');
    const put = await runRaftkv(['put', 'k', 'v', '--config', config]);
    expect(put.code, put.stderr).toBe(0);
  });
});
