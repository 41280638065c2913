import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, writeConfig } from '../../src/server/config.ts';
import { dirHolder } from '../../src/server/data-dir-lock.ts';
import { killCliChildren, runRaftkv, startTestCluster, type TestCluster } from './helpers.ts';

/**
 * What keeps a data directory safe on real processes: one process at a time holds it (a
 * second is refused with the holder's pid, a dead holder's lock is taken over at once),
 * a failing bind opens nothing, and a server id can never point outside it.
 */

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-lock-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => {
  killCliChildren();
});

describe('the data directory lock (raftkv node)', () => {
  let tc: TestCluster | null = null;
  afterEach(async () => {
    await tc?.teardown();
    tc = null;
  });

  it('a second node on a running server\'s data dir is refused with the holder\'s pid; the running node keeps serving, its files intact', async () => {
    const t = (tc = await startTestCluster(3));
    await t.cluster.waitForLeader();
    const c = await t.client({ serverId: 'server0' });
    await c.put('before', 'one');
    const logFile = path.join(t.config.dataDir, 'server0', 'log.db');
    const logBefore = readFileSync(logFile, 'utf8');
    const pid = t.cluster.pid('server0')!;

    const second = await runRaftkv(['node', '--id', 'server0', '--config', path.join(t.dir, 'cluster.json')]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`server0 is in use by pid ${pid} (raftkv node --id server0)`);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    // The same port on another data dir: the bind fails before that dir's storage is opened.
    const other = path.join(t.dir, 'other-data');
    const otherConfig = writeConfig(path.join(t.dir, 'other.json'), { ...t.config, dataDir: other });
    const bindFails = await runRaftkv(['node', '--id', 'server0', '--config', otherConfig]);
    expect(bindFails.code).toBe(1);
    expect(bindFails.stderr).toMatch(/server0 cannot listen on 127\.0\.0\.1:\d+/);
    expect(existsSync(path.join(other, 'server0', 'log.db'))).toBe(false);
    expect(existsSync(path.join(other, 'server0', 'state.db'))).toBe(false);

    // The running server0 did not notice: same process, serving, its log extended in place.
    expect(t.cluster.state('server0')).toBe('up');
    expect(t.cluster.pid('server0')).toBe(pid);
    expect(readFileSync(logFile, 'utf8')).toBe(logBefore);
    expect((await c.put('after', 'two')).value).toBe('two');
    expect((await c.mget(['before', 'after'])).values).toEqual(['one', 'two']);
    expect((await t.cluster.status('server0')).pid).toBe(pid);
    await waitUntil(() => readFileSync(logFile, 'utf8').length > logBefore.length, 10_000, 'server0 to log the new put');
    expect(readFileSync(logFile, 'utf8').startsWith(logBefore)).toBe(true);
  });

  it('kill -9 a node and restart it at once: the dead holder\'s lock is taken over', async () => {
    const t = (tc = await startTestCluster(3));
    await t.cluster.waitForLeader();
    const dir = path.join(t.config.dataDir, 'server1');
    const oldPid = t.cluster.pid('server1')!;
    await t.cluster.kill('server1');
    // The lock is left behind, naming a process that is gone.
    expect(existsSync(path.join(dir, 'raftkv.lock'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'raftkv.pid'), 'utf8')).pid).toBe(oldPid);
    expect(dirHolder(dir)).toBeNull();
    const started = Date.now();
    await t.cluster.start('server1');
    // Start-up included (tsx, storage): nothing waits out a staleness period.
    expect(Date.now() - started).toBeLessThan(10_000);
    const newPid = t.cluster.pid('server1')!;
    expect(dirHolder(dir)?.pid).toBe(newPid);
    const c = await t.client({ serverId: 'server1' });
    expect((await c.put('k', 'after restart')).value).toBe('after restart');
  });
});

describe('lockDataDir in competing processes', () => {
  const LOCK_MODULE = fileURLToPath(new URL('../../src/server/data-dir-lock.ts', import.meta.url));
  /** A process that takes the lock, says so (or why not), holds it for `holdMs`, and exits. */
  const contender = (dir: string, holdMs: number) =>
    new Promise<string>((resolve) => {
      const script = `import { lockDataDir } from ${JSON.stringify(LOCK_MODULE)};
        try { await lockDataDir(${JSON.stringify(dir)}, 'contender'); console.log('got ' + process.pid); await new Promise((r) => setTimeout(r, ${holdMs})); }
        catch (err) { console.log(err.message); }`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.once('close', () => resolve(out.trim()));
    });

  it('four processes find a dead holder\'s lock at once: exactly one takes it over, the others name it', async () => {
    const dir = mkdtempSync(path.join(tmp, 'race-'));
    // A lock left by a process that is gone (kill -9 leaves it so).
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    mkdirSync(path.join(dir, 'raftkv.lock'));
    writeFileSync(path.join(dir, 'raftkv.pid'), JSON.stringify({ pid: dead, what: 'a dead node' }));
    const results = await Promise.all([0, 1, 2, 3].map(() => contender(dir, 3000)));
    const winners = results.filter((r) => r.startsWith('got '));
    expect(winners, results.join('\n')).toHaveLength(1);
    const winner = winners[0].slice(4);
    for (const r of results.filter((x) => !x.startsWith('got '))) expect(r).toMatch(new RegExp(`is in use by pid ${winner} \\(contender\\)$`));
    // The winner exited normally: its lock is gone with it, and the next process takes it without a word.
    expect(existsSync(path.join(dir, 'raftkv.lock'))).toBe(false);
    expect(await contender(dir, 0)).toMatch(/^got \d+$/);
  });
});

describe('server ids are single safe path segments', () => {
  it('"..", ".", "a/b", "a\\\\b", "-x" and reserved names are refused by config parsing', () => {
    for (const id of ['..', '.', 'a/b', 'a\\b', '-x', '.hidden', '', 'logs', 'cluster.json', 'x'.repeat(65)]) {
      const file = path.join(tmp, 'ids', 'bad.json');
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify({ servers: [{ id, addr: '127.0.0.1:1' }] }));
      expect(() => loadConfig(file), id).toThrow(/servers\[0\]\.id /);
    }
    for (const id of ['server0', 'a.b', 'node_1', 'N-2']) {
      const file = path.join(tmp, 'ids', 'good.json');
      writeFileSync(file, JSON.stringify({ servers: [{ id, addr: '127.0.0.1:1' }] }));
      expect(loadConfig(file).servers[0].id).toBe(id);
    }
  });

  it('raftkv node with an id of ".." or "a/b" fails with a one-line error and writes nothing', async () => {
    for (const id of ['..', 'a/b']) {
      const root = mkdtempSync(path.join(tmp, 'dotdot-'));
      const conf = path.join(root, 'conf');
      mkdirSync(conf);
      const file = path.join(conf, 'cluster.json');
      writeFileSync(file, JSON.stringify({ servers: [{ id, addr: '127.0.0.1:1' }], dataDir: 'data' }));
      const r = await runRaftkv(['node', '--id', id, '--config', file]);
      expect(r.code).toBe(2); // a config error
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`servers[0].id must be 1-64 letters, digits, "_", "-" or ".", starting with a letter or digit (got ${JSON.stringify(id)})`);
      // Nothing was created: not conf/data, not the directory above it.
      expect(readdirSync(root)).toEqual(['conf']);
      expect(readdirSync(conf)).toEqual(['cluster.json']);
    }
  });
});
