import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TTL_SECONDS } from '../../src/kv/command.ts';
import { freePorts, killCliChildren, runRaftkv, startTestCluster, type CliResult, type TestCluster } from '../integration/helpers.ts';

/**
 * What the CLI says when an operation does not simply succeed, on real processes: refused
 * (nothing applied, exit 1), outcome unknown (exit 3, with a retry that is safe), no
 * majority (exit 4, within --timeout). Exit codes: src/cli/exit-codes.ts.
 */

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-cli-outcomes-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => {
  killCliChildren();
});

const stateDir = () => path.join(tmp, 'state');

function raftkv(args: string[], timeoutMs = 30_000, onSpawn?: (child: ChildProcess) => void): Promise<CliResult> {
  return runRaftkv(args, { timeoutMs, env: { RAFTKV_STATE_DIR: stateDir() }, onSpawn });
}

/**
 * Listeners that drop every connection: nothing answers, and no other test's cluster can
 * take the ports. `connections` counts the connections they took; `connected` settles on the first.
 */
async function deadConfig(n: number): Promise<{ file: string; close: () => void; connections: () => number; connected: Promise<void> }> {
  let connections = 0;
  let first!: () => void;
  const connected = new Promise<void>((resolve) => (first = resolve));
  const holders = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
      const s = net.createServer((sock) => {
        connections++;
        first();
        sock.destroy();
      });
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const file = path.join(tmp, `dead-${n}.json`);
  writeFileSync(file, JSON.stringify({ servers: holders.map((h, i) => ({ id: `s${i}`, addr: `127.0.0.1:${(h.address() as net.AddressInfo).port}` })) }));
  return { file, close: () => holders.forEach((h) => h.close()), connections: () => connections, connected };
}

/** The client state files (one per identity) under the test's state dir. */
function stateFiles(): string[] {
  const dir = path.join(stateDir(), 'clients');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
}

describe('refused input', () => {
  it('what every server would refuse (a key over 512 bytes, an empty key, a value over 64 KiB, a TTL over the limit) is a usage error, exit 2, nothing sent', async () => {
    const dead = await deadConfig(3);
    try {
      const cases: [string[], string][] = [
        [['get', 'k'.repeat(513)], 'key is 513 bytes; the limit is 512'],
        [['put', '', 'v'], 'key must be a non-empty string'],
        [['incr', ''], 'key must be a non-empty string'],
        [['put', 'k', 'v'.repeat(64 * 1024 + 1)], `value is ${64 * 1024 + 1} bytes; the limit is 65536`],
        [['mput', `a=${'v'.repeat(64 * 1024 + 1)}`], 'mput pairs[0]: value is'],
        [['expire', 'k', '1e20'], `the limit is ${MAX_TTL_SECONDS}`],
        [['expire', 'k', String(MAX_TTL_SECONDS + 1)], `the limit is ${MAX_TTL_SECONDS}`],
      ];
      for (const [args, message] of cases) {
        const r = await raftkv([...args, '--config', dead.file]);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(/^raftkv: refused, nothing was sent: /);
        expect(r.stderr).toContain(message);
        expect(r.stderr).not.toMatch(/unknown|retry/);
        expect(r.stdout).toBe('');
      }
      expect(dead.connections()).toBe(0);
    } finally {
      dead.close();
    }
  });
});

describe('every server refuses the connection', () => {
  it('get and put fail at once (exit 4), well within --timeout, and the put says it was not applied', async () => {
    // Free ports nothing listens on: each connection is refused (ECONNREFUSED).
    const ports = await freePorts(3);
    const file = path.join(tmp, 'refusing.json');
    writeFileSync(file, JSON.stringify({ servers: ports.map((p, i) => ({ id: `s${i}`, addr: `127.0.0.1:${p}` })) }));
    for (const args of [['put', 'k', 'v'], ['get', 'k']]) {
      const started = Date.now();
      const r = await raftkv([...args, '--config', file, '--timeout', '20000']);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain('every server refused the connection');
      if (args[0] === 'put') expect(r.stderr).toContain('"put k v" was not applied');
      expect(r.stderr).not.toMatch(/unknown|retry/);
      // Not the 20 s --timeout: the slack is Node starting and loading TypeScript.
      expect(Date.now() - started).toBeLessThan(10_000);
    }
  });

  it('servers that accept the connection and never answer still take the whole --timeout (no "not applied" from a refusal)', async () => {
    const dead = await deadConfig(2);
    try {
      const started = Date.now();
      const r = await raftkv(['put', 'k', 'v', '--config', dead.file, '--timeout', '2500']);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).not.toContain('refused the connection');
      // It waited for answers instead of failing fast (a refusal ends in about 0.5 s). Not
      // the full 2500: --timeout counts from when Node has loaded the CLI, and the command
      // keeps a reserve of it for closing.
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    } finally {
      dead.close();
    }
  });
});

describe('interrupted (Ctrl-C, SIGTERM) before anything was sent', () => {
  it('says nothing was sent, exit 130, and leaves no unfinished operation', async () => {
    const dead = await deadConfig(1);
    try {
      const cases: [string[], NodeJS.Signals, string][] = [
        [['put', 'k', 'v', '--client-id', 'early'], 'SIGINT', 'raftkv: interrupted (SIGINT) before anything was sent: "put k v" was not applied'],
        [['incr', 'n'], 'SIGTERM', 'raftkv: interrupted (SIGTERM) before anything was sent: "incr n" was not applied'],
        [['get', 'k'], 'SIGINT', 'raftkv: interrupted (SIGINT): "get k" was not sent'],
      ];
      for (const [args, signal, message] of cases) {
        const before = dead.connections();
        // Signalled once it dials the server (which never answers): still connecting.
        const r = await raftkv([...args, '--config', dead.file, '--timeout', '20000'], 30_000, (child) => {
          const waitDial = async () => {
            for (let i = 0; i < 400 && dead.connections() === before; i++) await new Promise((res) => setTimeout(res, 50));
            child.kill(signal);
          };
          void waitDial();
        });
        expect(r.code, r.stderr).toBe(130);
        expect(r.stderr).toContain(message);
        expect(r.stderr).not.toMatch(/retry/);
      }
      expect(JSON.parse(readFileSync(path.join(stateDir(), 'clients', 'early.json'), 'utf8'))).toMatchObject({ nextOpId: 2, unfinished: null });
      expect(stateFiles().filter((f) => f.startsWith('cli-'))).toEqual([]);
    } finally {
      dead.close();
    }
  });
});

describe('client identities (--client-id)', () => {
  it('a retry older than the servers keep sessions is refused, nothing sent', async () => {
    const dead = await deadConfig(1);
    try {
      mkdirSync(path.join(stateDir(), 'clients'), { recursive: true });
      const unfinished = { opId: 7, op: { type: 'incr', key: 'n' }, command: 'incr n', since: Date.now() - 2 * 60 * 60 * 1000 };
      writeFileSync(path.join(stateDir(), 'clients', 'old.json'), JSON.stringify({ clientId: 'old', nextOpId: 8, unfinished }));
      for (const args of [['retry'], ['incr', 'n']]) {
        const r = await raftkv([...args, '--client-id', 'old', '--config', dead.file]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain('raftkv: refused, nothing was sent: "incr n" (client old, operation 7) was first sent 120 minutes ago');
      }
    } finally {
      dead.close();
    }
  });

  it('one identity runs one command at a time; a bad id is a usage error', async () => {
    mkdirSync(path.join(stateDir(), 'clients'), { recursive: true });
    const lock = path.join(stateDir(), 'clients', 'busy.lock');
    writeFileSync(lock, `${process.pid}\n`);
    try {
      const r = await raftkv(['get', 'k', '--client-id', 'busy']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`client busy is in use by another raftkv (pid ${process.pid})`);
    } finally {
      rmSync(lock);
    }
    const bad = await raftkv(['get', 'k', '--client-id', '../x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--client-id must be 1-64 letters');
    expect(await raftkv(['retry'])).toMatchObject({ code: 2 });
  });
});

describe('status', () => {
  it('exits non-zero (4) when no server answers', async () => {
    const dead = await deadConfig(3);
    try {
      const r = await raftkv(['status', '--config', dead.file]);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain('no server answered');
      expect(r.stdout.split('\n').filter((l) => /\sdown$/.test(l))).toHaveLength(3);
    } finally {
      dead.close();
    }
  });
});

describe('with 2 of 5 servers up', () => {
  let tc: TestCluster;
  let config: string;
  beforeAll(async () => {
    tc = await startTestCluster(5);
    config = path.join(tc.dir, 'cluster.json');
    const leader = await tc.cluster.waitForLeader();
    const victims = [leader, ...tc.cluster.ids.filter((id) => id !== leader).slice(0, 2)];
    await Promise.all(victims.map((id) => tc.cluster.kill(id)));
    // The survivors forget the leader when they campaign (and fail: 2 of 5 cannot win).
    for (const id of tc.cluster.ids.filter((x) => !victims.includes(x))) await tc.cluster.waitFor(id, (s) => !s.leaderId, 10_000, `${id} to know no leader`);
  });
  afterAll(async () => {
    await tc?.teardown();
  });

  it('put says "no majority: 2 of 5 servers reachable, 3 needed" within --timeout, exit 4', async () => {
    const started = Date.now();
    const r = await raftkv(['put', 'k', 'v', '--config', config, '--timeout', '3000']);
    const ms = Date.now() - started;
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('raftkv: no majority: 2 of 5 servers reachable, 3 needed; "put k v" was not applied');
    expect(r.stderr).not.toMatch(/unknown/);
    // --timeout bounds the command; the slack is Node starting and loading TypeScript.
    expect(ms).toBeLessThan(3000 + 2500);
  });

  it('a get says the same, without "not applied"', async () => {
    const r = await raftkv(['get', 'k', '--config', config, '--timeout', '2000']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^raftkv: no majority: 2 of 5 servers reachable, 3 needed\n/);
  });
});

describe('a retry under an unknown outcome', () => {
  let tc: TestCluster;
  let config: string;
  beforeAll(async () => {
    // Long election timeouts (5-10 s): the leader keeps leading while its followers are
    // frozen for the length of one CLI run (start-up included, on a loaded machine), so
    // the write reaches its log and waits there.
    tc = await startTestCluster(3, (c) => ({ ...c, timing: { ...c.timing, electionTick: 200 } }));
    config = path.join(tc.dir, 'cluster.json');
  });
  afterAll(async () => {
    await tc?.teardown();
  });

  async function frozenFollowers<T>(run: (leader: string) => Promise<T>): Promise<T> {
    const leader = await tc.cluster.waitForLeader(30_000);
    const followers = tc.cluster.ids.filter((id) => id !== leader);
    followers.forEach((id) => tc.cluster.pause(id));
    try {
      return await run(leader);
    } finally {
      followers.forEach((id) => tc.cluster.resume(id));
    }
  }

  it('with --client-id: the advised retry leaves the counter at 1, not 2', async () => {
    const first = await frozenFollowers((leader) => raftkv(['incr', 'visits', '--client-id', 'c1', '--timeout', '1200', '--server', leader, '--config', config]));
    expect(first.code, first.stderr).toBe(3);
    expect(first.stderr).toContain('raftkv: outcome unknown: "incr visits" may or may not have taken effect');
    expect(first.stderr).toContain(`raftkv retry --client-id c1 --config ${config}`);
    const state = JSON.parse(readFileSync(path.join(stateDir(), 'clients', 'c1.json'), 'utf8'));
    expect(state).toMatchObject({ clientId: 'c1', nextOpId: 2, unfinished: { opId: 1, op: { type: 'incr', key: 'visits' }, command: 'incr visits' } });

    // Another command under the same identity waits until that one is finished.
    const other = await raftkv(['put', 'x', 'y', '--client-id', 'c1', '--config', config]);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('client c1 has an unfinished operation whose outcome is not known: "incr visits" (operation 1)');

    await tc.cluster.waitForLeader(30_000);
    const retry = await raftkv(['retry', '--client-id', 'c1', '--config', config]);
    expect(retry, retry.stderr).toMatchObject({ code: 0, stdout: '1\n' });
    expect((await raftkv(['get', 'visits', '--config', config])).stdout).toBe('1\n');
    // Nothing is left to retry, and the identity goes on with its next opId.
    expect(await raftkv(['retry', '--client-id', 'c1', '--config', config])).toMatchObject({ code: 0, stdout: '' });
    expect(await raftkv(['incr', 'visits', '--client-id', 'c1', '--config', config])).toMatchObject({ code: 0, stdout: '2\n' });
    expect(JSON.parse(readFileSync(path.join(stateDir(), 'clients', 'c1.json'), 'utf8'))).toMatchObject({ nextOpId: 3, unfinished: null });
  });

  it('re-running the same command with the same --client-id is the retry', async () => {
    const args = ['incr', 'hits', '--client-id', 'c2', '--config', config];
    const first = await frozenFollowers((leader) => raftkv([...args, '--timeout', '1200', '--server', leader]));
    expect(first.code, first.stderr).toBe(3);
    await tc.cluster.waitForLeader(30_000);
    expect(await raftkv(args)).toMatchObject({ code: 0, stdout: '1\n' });
    expect((await raftkv(['get', 'hits', '--config', config])).stdout).toBe('1\n');
  });

  it('Ctrl-C with a write in flight: outcome unknown with the retry (exit 130), recorded; the retry applies it once', async () => {
    const first = await frozenFollowers(async (leader) => {
      const { lastLogIndex } = await tc.cluster.status(leader);
      return raftkv(['incr', 'stops', '--timeout', '20000', '--server', leader, '--config', config], 30_000, (child) => {
        // Ctrl-C once the write sits in the leader's log, waiting for followers that are frozen.
        tc.cluster
          .waitFor(leader, (s) => s.lastLogIndex > lastLogIndex, 20_000, 'the incr in the leader log')
          .then(() => child.kill('SIGINT'), () => child.kill('SIGKILL'));
      });
    });
    expect(first.code, first.stderr).toBe(130);
    expect(first.stdout).toBe('');
    expect(first.stderr).toContain('raftkv: outcome unknown: "incr stops" may or may not have taken effect: interrupted (SIGINT) while it was in flight');
    const id = /raftkv retry --client-id (cli-[0-9a-f]+)/.exec(first.stderr)?.[1];
    expect(id, first.stderr).toBeDefined();
    expect(JSON.parse(readFileSync(path.join(stateDir(), 'clients', `${id}.json`), 'utf8'))).toMatchObject({ unfinished: { opId: 1, op: { type: 'incr', key: 'stops' } } });
    await tc.cluster.waitForLeader(30_000);
    expect(await raftkv(['retry', '--client-id', id!, '--config', config])).toMatchObject({ code: 0, stdout: '1\n' });
    expect((await raftkv(['get', 'stops', '--config', config])).stdout).toBe('1\n');
    // The identity keeps counting: its next operation is 2, never 1 again.
    expect(JSON.parse(readFileSync(path.join(stateDir(), 'clients', `${id}.json`), 'utf8'))).toMatchObject({ nextOpId: 2, unfinished: null });
  });

  it('without --client-id, the message names the identity to retry with, and that retry is safe too', async () => {
    const first = await frozenFollowers((leader) => raftkv(['incr', 'misses', '--timeout', '1200', '--server', leader, '--config', config]));
    expect(first.code, first.stderr).toBe(3);
    const id = /raftkv retry --client-id (cli-[0-9a-f]+)/.exec(first.stderr)?.[1];
    expect(id, first.stderr).toBeDefined();
    await tc.cluster.waitForLeader(30_000);
    expect(await raftkv(['retry', '--client-id', id!, '--config', config])).toMatchObject({ code: 0, stdout: '1\n' });
    expect((await raftkv(['get', 'misses', '--config', config])).stdout).toBe('1\n');
    // That identity used again, as any --client-id: new operations are applied, not answered
    // from the servers' record of operation 1 (a fresh state file restarted at 1: the put
    // printed OK and wrote nothing, and a second incr printed 1 again).
    expect(await raftkv(['put', 'after-retry', 'hello', '--client-id', id!, '--config', config])).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect((await raftkv(['get', 'after-retry', '--config', config])).stdout).toBe('hello\n');
    expect(await raftkv(['incr', 'misses', '--client-id', id!, '--config', config])).toMatchObject({ code: 0, stdout: '2\n' });
  });
});
