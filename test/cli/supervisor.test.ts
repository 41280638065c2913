import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readSupervisorFile } from '../../src/cluster/supervisor-file.ts';
import { loadConfig, writeConfig, defaultConfig, type ClusterConfig } from '../../src/server/config.ts';
import { dirHolder, isAlive } from '../../src/server/data-dir-lock.ts';
import { freePorts, killCliChildren, runRaftkv } from '../integration/helpers.ts';

/**
 * `raftkv cluster up` as a supervisor, on real processes: it refuses to start over a
 * running cluster, reports a server's death at once, and takes `cluster down|restart|kill`
 * from other terminals; a node started by hand is adopted.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A long-running `raftkv` process (cluster up, node) whose output a test waits on. */
interface Background {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves with the time the pattern first appeared in stdout+stderr. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<number>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const background: Background[] = [];

function startBackground(args: string[]): Background {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/raftkv.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters: { re: RegExp; resolve(t: number): void }[] = [];
  const onData = (d: string) => {
    out += d;
    for (const w of waiters.splice(0)) {
      if (w.re.test(out)) w.resolve(Date.now());
      else waiters.push(w);
    }
  };
  child.stdout!.setEncoding('utf8').on('data', onData);
  child.stderr!.setEncoding('utf8').on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const bg: Background = {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    waitFor(re, timeoutMs = 30_000) {
      if (re.test(out)) return Promise.resolve(Date.now());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${out}`)), timeoutMs);
        waiters.push({ re, resolve: (t) => (clearTimeout(timer), resolve(t)) });
        void exited.then(({ code, signal }) => reject(new Error(`exited (${code ?? signal}) before ${re} appeared:\n${out}`)));
      });
    },
  };
  background.push(bg);
  return bg;
}

/** Stops, by pid, every process a test left: background CLIs, and servers on the data dirs given. */
function killLeftovers(dataDirs: string[]): void {
  for (const bg of background.splice(0)) if (bg.child.exitCode === null && bg.child.signalCode === null) process.kill(bg.pid, 'SIGKILL');
  for (const dir of dataDirs) {
    const rec = readSupervisorFile(dir);
    const pids = [rec?.pid, ...Object.values(rec?.servers ?? {}).map((m) => m.pid)];
    if (existsSync(dir)) for (const name of readdirSync(dir)) pids.push(dirHolder(path.join(dir, name))?.pid);
    for (const pid of pids) {
      if (pid && pid !== process.pid && isAlive({ pid })) process.kill(pid, 'SIGKILL');
    }
  }
}

async function waitUntil(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `raftkv status` rows by server id: the columns split on blanks. */
async function statusRows(configFile: string, allDown = false): Promise<Record<string, string[]>> {
  const r = await runRaftkv(['status', '--config', configFile]);
  // Exit 4 says no server answered.
  expect(r.code).toBe(allDown ? 4 : 0);
  const rows: Record<string, string[]> = {};
  for (const line of r.stdout.trimEnd().split('\n').slice(1)) {
    const cols = line.trim().split(/\s{2,}/);
    if (/^server\d/.test(cols[0])) rows[cols[0]] = cols;
  }
  return rows;
}

/** A config on free loopback ports with data in `dir`/data, written to `dir`/cluster-in.json. */
async function freeConfig(dir: string, n: number): Promise<{ file: string; config: ClusterConfig }> {
  const ports = await freePorts(n);
  const base = defaultConfig(n, 0, path.join(dir, 'data'));
  const config = { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })) };
  return { file: writeConfig(path.join(dir, 'cluster-in.json'), config), config };
}

/**
 * `cluster up` (3 servers, supervised) of a config on free ports in a fresh temp dir named
 * `prefix`, once it says it supervises. `track` gets the data dir before anything starts,
 * so the caller's cleanup finds what a failed start left running.
 */
async function supervisedCluster(prefix: string, track: (data: string) => void, flags: string[] = ['--no-trace']): Promise<{ dir: string; conf: string; config: ClusterConfig; up: Background }> {
  const dir = mkdtempSync(path.join(tmp, prefix));
  track(path.join(dir, 'data'));
  const { file, config } = await freeConfig(dir, 3);
  const up = startBackground(['cluster', 'up', '--config', file, ...flags]);
  await up.waitFor(/supervising \(pid \d+\)/, 60_000);
  return { dir, conf: path.join(dir, 'data', 'cluster.json'), config, up };
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-ops-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => {
  killCliChildren();
});

describe('cluster up supervises its servers', () => {
  let dir: string;
  let data: string;
  let conf: string;
  let up: Background;
  beforeAll(async () => {
    ({ dir, conf, up } = await supervisedCluster('sup-', (d) => (data = d)));
  });
  afterAll(() => {
    killLeftovers([data]);
  });

  it('a second cluster up on the same data dir is refused; the first is untouched', async () => {
    const before = readFileSync(conf, 'utf8');
    const second = await runRaftkv(['cluster', 'up', '--config', conf, '--no-trace']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`data is in use by pid ${up.pid} (raftkv cluster up): a cluster is already running there`);
    expect(second.stdout).not.toContain('leader:');
    expect(readFileSync(conf, 'utf8')).toBe(before);
    // Without --config (the data dir's cluster.json is kept): refused before it says it keeps anything.
    const bare = await runRaftkv(['cluster', 'up', '--data', data, '--no-trace']);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('a cluster is already running there');
    expect(bare.stdout).not.toContain('keeping the settings');
    expect(readFileSync(conf, 'utf8')).toBe(before);
    // Another data dir on the same ports: refused before anything is written there.
    const elsewhere = path.join(dir, 'elsewhere');
    const otherConf = writeConfig(path.join(dir, 'other.json'), { ...loadConfig(conf), dataDir: elsewhere });
    const ports = await runRaftkv(['cluster', 'up', '--config', otherConf, '--no-trace']);
    expect(ports.code).toBe(1);
    expect(ports.stderr).toMatch(/cannot start the cluster, nothing was changed:\n {2}127\.0\.0\.1:\d+ \(server0\): in use/);
    expect(existsSync(path.join(elsewhere, 'cluster.json'))).toBe(false);
    expect(existsSync(path.join(elsewhere, 'server0'))).toBe(false);
    // The first cluster still serves, every server supervised.
    expect(await runRaftkv(['put', 'k1', 'v1', '--config', conf])).toMatchObject({ code: 0, stdout: 'OK\n' });
    const rows = await statusRows(conf);
    expect(Object.values(rows).map((r) => r.at(-1))).toEqual(['supervised', 'supervised', 'supervised']);
    expect(up.child.exitCode).toBeNull();
  });

  it('a second raftkv node on a supervised server\'s dir is refused; that server keeps serving', async () => {
    const pid = readSupervisorFile(data)!.servers.server0.pid!;
    const r = await runRaftkv(['node', '--id', 'server0', '--config', conf]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`server0 is in use by pid ${pid}`);
    expect(await runRaftkv(['get', 'k1', '--config', conf, '--server', 'server0'])).toMatchObject({ code: 0, stdout: 'v1\n' });
    expect(isAlive({ pid })).toBe(true);
  });

  it('kill -9 of a managed server is reported at once, with its signal and log; cluster restart brings it back', async () => {
    const pid = readSupervisorFile(data)!.servers.server1.pid!;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const reportedAt = await up.waitFor(/server1 died: killed by SIGKILL \(pid \d+\)\.\nlast lines of .*server1\.log:\n(?: {4}.*\n)*? {4}server1 listening on/, 10_000);
    expect(reportedAt - killedAt).toBeLessThan(3000);
    expect(up.output()).toContain(`server1 died: killed by SIGKILL (pid ${pid})`);
    expect((await statusRows(conf)).server1).toEqual(['server1', expect.any(String), 'down', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', 'died (SIGKILL)']);

    const restart = await runRaftkv(['cluster', 'restart', 'server1', '--config', conf]);
    expect(restart.stderr).toBe('');
    expect(restart.code).toBe(0);
    expect(restart.stdout).toMatch(/^server1 started \(pid \d+\)\n$/);
    // Just started, it may still be campaigning (preCandidate) until it hears the leader.
    let row: string[] = [];
    await waitUntil(async () => /leader|follower/.test((row = (await statusRows(conf)).server1)[2]), 15_000, 'server1 to join as leader or follower');
    expect(row[2]).toMatch(/leader|follower/);
    expect(row.at(-1)).toBe('supervised');
    expect(Number(row[11])).not.toBe(pid);
    expect(await runRaftkv(['get', 'k1', '--config', conf, '--server', 'server1'])).toMatchObject({ code: 0, stdout: 'v1\n' });
  });

  it('cluster kill is not a death; a node then started by hand is adopted', async () => {
    const kill = await runRaftkv(['cluster', 'kill', 'server2', '--config', conf]);
    expect(kill).toMatchObject({ code: 0, stdout: 'server2 killed (SIGKILL) on request\n' });
    expect(up.output()).not.toContain('server2 died');
    expect((await statusRows(conf)).server2.at(-1)).toBe('stopped on request');
    const unknown = await runRaftkv(['cluster', 'kill', 'server9', '--config', conf]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no server "server9" in the config');

    const hand = startBackground(['node', '--id', 'server2', '--config', conf]);
    await hand.waitFor(/server2: supervised by the cluster up of pid \d+/, 30_000);
    await up.waitFor(/server2 started by hand \(pid \d+\): supervised from now on/, 10_000);
    const row = (await statusRows(conf)).server2;
    expect(row.at(-1)).toBe('adopted');
    expect(Number(row[11])).toBe(hand.pid);
  });

  it('cluster down from another process stops every server, the adopted one too, and the supervisor', async () => {
    const rec = readSupervisorFile(data)!;
    const pids = Object.values(rec.servers).map((m) => ({ pid: m.pid!, start: m.start }));
    expect(pids.every((p) => isAlive(p))).toBe(true);
    const down = await runRaftkv(['cluster', 'down', '--config', conf]);
    expect(down.stderr).toBe('');
    expect(down.code).toBe(0);
    expect(down.stdout).toContain(`supervisor (pid ${up.pid}): stopped 3 servers (server0, server1, server2)`);
    expect(await up.exited).toEqual({ code: 0, signal: null });
    for (const p of pids) expect(isAlive(p), `pid ${p.pid}`).toBe(false);
    expect(existsSync(path.join(data, 'supervisor.json'))).toBe(false);
    expect(dirHolder(data)).toBeNull();
    const again = await runRaftkv(['cluster', 'down', '--config', conf]);
    expect(again).toMatchObject({ code: 0, stdout: expect.stringContaining('no cluster is running in') });
    const noSup = await runRaftkv(['cluster', 'restart', 'server0', '--config', conf]);
    expect(noSup.code).toBe(1);
    expect(noSup.stderr).toContain('no cluster supervisor is running for');
  });
});

describe('cluster down without a working supervisor', () => {
  let data: string;
  afterAll(() => {
    killLeftovers([data]);
  });

  it('a supervisor killed -9: its servers stop by themselves, cluster down cleans up; a stuck one is signalled', async () => {
    const { conf, up } = await supervisedCluster('sup9-', (d) => (data = d));
    const servers = Object.values(readSupervisorFile(data)!.servers).map((m) => ({ pid: m.pid!, start: m.start }));
    process.kill(up.pid, 'SIGKILL');
    await up.exited;
    // RAFTKV_PARENT_PID: each server sees its parent gone and stops.
    await waitUntil(() => servers.every((s) => !isAlive(s)), 15_000, 'the servers to stop by themselves');
    const rows = await statusRows(conf, true);
    expect(Object.values(rows).map((r) => r.at(-1))).toEqual(['no supervisor', 'no supervisor', 'no supervisor']);
    const down = await runRaftkv(['cluster', 'down', '--config', conf]);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain(`the supervisor (pid ${up.pid}) is gone; stopping what it left running`);
    expect(existsSync(path.join(data, 'supervisor.json'))).toBe(false);
    // The dead supervisor's lock does not stand in the way of the next cluster up.
    const again = startBackground(['cluster', 'up', '--config', conf, '--no-trace']);
    await again.waitFor(/supervising \(pid \d+\)/, 60_000);
    // A supervisor that does not answer (stopped with SIGSTOP) is not waited for long:
    // cluster down signals it (it resumes and stops its servers), and nothing is left.
    const stuckServers = Object.values(readSupervisorFile(data)!.servers).map((m) => ({ pid: m.pid!, start: m.start }));
    process.kill(again.pid, 'SIGSTOP');
    const stop = await runRaftkv(['cluster', 'down', '--config', conf]);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain(`supervisor (pid ${again.pid}) did not stop the cluster: the supervisor did not answer within 3000 ms`);
    expect(stop.stdout).toMatch(new RegExp(`stopped the supervisor, pid ${again.pid}, with SIG(TERM|KILL)`));
    await again.exited;
    for (const p of stuckServers) expect(isAlive(p), `pid ${p.pid}`).toBe(false);
  });

  it('servers started by hand with no supervisor are stopped by cluster down through their locks', async () => {
    const conf = path.join(data, 'cluster.json');
    const nodes = ['server0', 'server1'].map((id) => startBackground(['node', '--id', id, '--config', conf]));
    await Promise.all(nodes.map((n, i) => n.waitFor(new RegExp(`server${i} listening on`), 30_000)));
    expect(nodes[0].output()).not.toContain('supervised');
    const down = await runRaftkv(['cluster', 'down', '--config', conf]);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain(`stopped server0 (pid ${nodes[0].pid}) with SIGTERM, server1 (pid ${nodes[1].pid}) with SIGTERM`);
    for (const n of nodes) expect(await n.exited).toEqual({ code: 0, signal: null });
  });
});

describe('a server removed from the cluster under cluster up', () => {
  let data: string;
  afterAll(() => {
    killLeftovers([data]);
  });

  it('is reported as removed, not dead; cluster restart refuses it; the next cluster up does not start it', async () => {
    const { conf, up } = await supervisedCluster('suprm-', (d) => (data = d));
    await waitUntil(async () => Object.values(await statusRows(conf)).filter((r) => r[2] === 'leader').length === 1, 15_000, 'a leader');
    const leader = Object.values(await statusRows(conf)).find((r) => r[2] === 'leader')![0];
    const victim = ['server0', 'server1', 'server2'].find((id) => id !== leader)!;
    const removed = await runRaftkv(['member', 'remove', victim, '--config', conf]);
    expect(removed.code, removed.stderr).toBe(0);
    await up.waitFor(new RegExp(`${victim} was removed from the cluster at index \\d+ and stopped; it is no longer a member`), 15_000);
    expect(up.output()).not.toContain(`${victim} died`);
    expect((await statusRows(conf))[victim].at(-1)).toBe('removed from the cluster');
    const restart = await runRaftkv(['cluster', 'restart', victim, '--config', conf]);
    expect(restart.code).not.toBe(0);
    expect(restart.stderr).toContain(`${victim} was removed from the cluster at index`);
    const down = await runRaftkv(['cluster', 'down', '--config', conf]);
    expect(down.code).toBe(0);
    await up.exited;
    const again = startBackground(['cluster', 'up', '--config', conf, '--no-trace']);
    await again.waitFor(/supervising \(pid \d+\)/, 60_000);
    expect(again.output()).toMatch(new RegExp(`${victim} was removed from the cluster at index \\d+: not started`));
    expect((await runRaftkv(['cluster', 'down', '--config', conf])).code).toBe(0);
    await again.exited;
  }, 120_000);
});

describe('a traced cluster up', () => {
  let data: string;
  let runDir: string | null = null;
  afterAll(() => {
    killLeftovers([data]);
    if (runDir) rmSync(runDir, { recursive: true, force: true });
  });

  it('writes meta.json beside the trace, naming the configured servers, so check counts majorities against them', async () => {
    const { up } = await supervisedCluster('suptr-', (d) => (data = d), []);
    const m = /tracing to (\S+) \(open shiviz.log/.exec(up.output());
    expect(m).not.toBeNull();
    runDir = path.resolve(REPO, m![1]);
    expect(JSON.parse(readFileSync(path.join(runDir, 'meta.json'), 'utf8')).servers).toEqual(['server0', 'server1', 'server2']);
    expect((await runRaftkv(['cluster', 'down', '--config', path.join(data, 'cluster.json')])).code).toBe(0);
    await up.exited;
  }, 60_000);
});

describe('cluster down and status with a member that joined later (not in cluster.json)', () => {
  let data: string;
  afterAll(() => {
    killLeftovers([data]);
  });

  it('status lists it, and cluster down stops it with the founders, by its lock, naming it', async () => {
    const { conf, config, up } = await supervisedCluster('supjoin-', (d) => (data = d));
    const [port] = await freePorts(1);
    const added = await runRaftkv(['member', 'add', 'server3', `127.0.0.1:${port}`, '--learner', '--config', conf]);
    expect(added.code, added.stdout + added.stderr).toBe(0);
    const joined = startBackground(['node', '--id', 'server3', '--join', config.servers[0].addr, '--config', conf]);
    await joined.waitFor(/server3 listening on/, 30_000);
    await joined.waitFor(/server3: not supervised/, 10_000);
    const promoted = await runRaftkv(['member', 'promote', 'server3', '--config', conf, '--timeout', '60000']);
    expect(promoted.code, promoted.stdout + promoted.stderr).toBe(0);
    expect((await statusRows(conf)).server3.slice(0, 2)).toEqual(['server3', `127.0.0.1:${port}`]);

    const down = await runRaftkv(['cluster', 'down', '--config', conf]);
    expect(down.stderr).toBe('');
    expect(down.code).toBe(0);
    expect(down.stdout).toContain(`supervisor (pid ${up.pid}): stopped 3 servers (server0, server1, server2)`);
    expect(down.stdout).toContain(`stopped server3 (pid ${joined.pid}) with SIGTERM`);
    expect(await joined.exited).toEqual({ code: 0, signal: null });
    await up.exited;
    expect(dirHolder(path.join(data, 'server3'))).toBeNull();
    // Every server down: status still names the joined member, from its member.json.
    expect((await statusRows(conf, true)).server3.slice(0, 3)).toEqual(['server3', `127.0.0.1:${port}`, 'down']);
    const again = await runRaftkv(['cluster', 'down', '--config', conf]);
    expect(again).toMatchObject({ code: 0, stdout: expect.stringContaining('no cluster is running in') });
  }, 180_000);
});

describe('cluster restart --rejoin-empty, for a server whose log.db lost acknowledged entries', () => {
  let data: string;
  afterAll(() => {
    killLeftovers([data]);
  });

  it('the death report names it; a plain restart says it too; with the flag the server rejoins empty and serves every value', async () => {
    const { conf, up } = await supervisedCluster('suprejoin-', (d) => (data = d));
    // Options the command does not take are refused, not ignored.
    for (const args of [['cluster', 'restart', 'server2', '--learner'], ['cluster', 'kill', 'server2', '--rejoin-empty'], ['cluster', 'down', '--nodes', '3']]) {
      const r = await runRaftkv([...args, '--config', conf]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`cluster ${args[1]} does not take --`));
    }
    const keys = Array.from({ length: 8 }, (_, i) => `k${i}`);
    for (const k of keys) expect((await runRaftkv(['put', k, `v-${k}`, '--config', conf])).code).toBe(0);
    let leader = '';
    await waitUntil(async () => {
      const rows = await statusRows(conf);
      leader = Object.values(rows).find((r) => r[2] === 'leader')?.[0] ?? '';
      return leader !== '' && Object.values(rows).every((r) => r[6] === rows[leader][5]);
    }, 20_000, 'every server to apply the leader\'s commit index');
    const victim = ['server0', 'server1', 'server2'].find((id) => id !== leader)!;
    expect((await runRaftkv(['cluster', 'kill', victim, '--config', conf])).code).toBe(0);
    const logFile = path.join(data, victim, 'log.db');
    const bytes = readFileSync(logFile);
    truncateSync(logFile, Math.floor(bytes.length / 2));

    const plain = await runRaftkv(['cluster', 'restart', victim, '--config', conf]);
    expect(plain.code).toBe(1);
    const hint = `npx raftkv cluster restart ${victim} --rejoin-empty --config ${conf}`;
    expect(plain.stderr).toContain(`its log lost entries it had acknowledged: ${hint} sets that log aside`);
    await up.waitFor(new RegExp(`${victim} died: exited with code 1[^]*it refused to start: its log lost entries it had acknowledged[^]*: ${hint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 10_000);

    const rejoin = await runRaftkv(['cluster', 'restart', victim, '--rejoin-empty', '--config', conf]);
    expect(rejoin.stderr).toBe('');
    expect(rejoin.code).toBe(0);
    expect(rejoin.stdout).toMatch(new RegExp(`^${victim} started with --rejoin-empty \\(pid \\d+\\)\\n$`));
    expect(readFileSync(path.join(data, 'logs', `${victim}.log`), 'utf8')).toContain(`${victim}: --rejoin-empty: `);
    await waitUntil(async () => (await runRaftkv(['mget', ...keys, '--config', conf, '--server', victim])).stdout.includes('v-k7'), 30_000, `${victim} to serve`);
    expect((await statusRows(conf))[victim].at(-1)).toBe('supervised');
    expect((await runRaftkv(['cluster', 'down', '--config', conf])).code).toBe(0);
    await up.exited;
  }, 180_000);
});
