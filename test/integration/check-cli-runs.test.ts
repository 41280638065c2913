import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KvClient } from '../../src/client/kv-client.ts';
import { findSupervisor } from '../../src/cluster/supervisor-client.ts';
import { defaultConfig, writeConfig, type ClusterConfig } from '../../src/server/config.ts';
import { WRITING_MARKER } from '../../tracing/run-writer.ts';
import { formatReport, runChecks, type CheckReport } from '../../tracing/check/report.ts';
import { failingRules } from '../check/mutate.ts';
import { clusterUp, trackUps } from './cluster-up.ts';
import { freePorts, runRaftkv } from './helpers.ts';

/**
 * `raftkv check` on runs made the way a user makes them: `raftkv cluster up` (traced), CLI
 * client commands, `cluster down` or Ctrl-C. Real processes: the supervisor, its servers
 * and tracing server, and one process per CLI command.
 */

const { ups, temps } = trackUps();
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A 3-server config on free ports in a fresh temp dir; the client commands' state dir beside it. */
async function setUp(prefix: string, tweak: (c: ClusterConfig) => ClusterConfig = (c) => c): Promise<{ file: string; conf: string; env: NodeJS.ProcessEnv; dataDir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  const ports = await freePorts(3);
  const base = defaultConfig(3, 0, path.join(dir, 'data'));
  const file = writeConfig(path.join(dir, 'cluster-in.json'), tweak({ ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })) }));
  return { file, conf: path.join(dir, 'data', 'cluster.json'), env: { RAFTKV_STATE_DIR: path.join(dir, 'state') }, dataDir: path.join(dir, 'data') };
}

describe('raftkv check on a run where one --client-id serves several CLI commands', () => {
  it('passes: each command is one life of the client (KvslibStart ... KvslibStop), its OpIds carry on', async () => {
    const { file, conf, env } = await setUp('raftkv-check-lives-');
    const cli = async (...args: string[]) => {
      const r = await runRaftkv([...args, '--config', conf], { env });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const up = await clusterUp(file, { ups, temps });
    expect(await cli('put', 'x', '1', '--client-id', 'alice')).toBe('OK');
    expect(await cli('put', 'x', '2', '--client-id', 'alice')).toBe('OK');
    expect(await cli('get', 'x', '--client-id', 'alice')).toBe('2');
    expect(await up.stop()).toMatch(/stopped 3 servers/);

    const report = runChecks(up.runDir);
    expect(failingRules(report), formatReport(report)).toEqual([]);
    const starts = report.results.find((r) => r.rule === 'lifecycle');
    expect(starts?.status).toBe('PASS');
    const r = await runRaftkv(['check', up.runDir], { timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 180_000);
});

describe('raftkv check on a run still being written', () => {
  it('grades a consistent cut while a client writes in a loop (exit 0, says so); the finished run passes strictly', async () => {
    const { file, conf } = await setUp('raftkv-check-live-');
    const up = await clusterUp(file, { ups, temps });
    const config = JSON.parse(readFileSync(conf, 'utf8')) as ClusterConfig;
    expect(config.traceServer).toBeTruthy();
    const client = await KvClient.start({ clientId: 'looper', servers: config.servers, traceServer: config.traceServer! });
    let writing = true;
    let written = 0;
    const loop = (async () => {
      // Bounded: at most 2000 rounds, paced (a load, not a benchmark), and the test stops it.
      for (let i = 0; writing && i < 2000; i++) {
        await Promise.all([client.put(`k${i % 5}`, String(i)), client.incr(`n${i % 3}`), client.get(`k${(i + 1) % 5}`)]);
        written++;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      expect(existsSync(path.join(up.runDir, WRITING_MARKER))).toBe(true);
      for (let round = 0; round < 2; round++) {
        const before = written;
        while (written < before + 5) await new Promise((r) => setTimeout(r, 50));
        const t0 = Date.now();
        const r = await runRaftkv(['check', up.runDir], { timeoutMs: 120_000 });
        console.log(`live check ${round + 1}: ${Date.now() - t0} ms after ${written} rounds; ${r.stdout.split('\n')[1]}`);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.stdout.split('\n')[1]).toMatch(/^run still being written: graded up to line \d+ \(\d+ events.*\); operations in flight \(\d+\) and clients not yet stopped are not judged$/);
      }
    } finally {
      writing = false;
      await loop;
      await client.stop();
    }
    expect(await up.stop()).toMatch(/stopped 3 servers/);
    expect(existsSync(path.join(up.runDir, WRITING_MARKER))).toBe(false);
    const report = runChecks(up.runDir);
    expect(report.live).toBeUndefined();
    expect(failingRules(report), formatReport(report)).toEqual([]);
    const r = await runRaftkv(['check', up.runDir], { timeoutMs: 120_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/still being written/);
  }, 300_000);
});

/**
 * A write whose client never saw its outcome, finished later by another process with the
 * same client id, as a user does it: the leader's followers frozen (kill -STOP, by pid)
 * while the write waits in its log. Long election timeouts (5-10 s) keep the leader
 * leading meanwhile. The write is applied once, when the followers are let go, and a read
 * sees it before the retry answers: the checker must take the attempts as one operation
 * that may have taken effect from the first attempt's call.
 */
describe('raftkv check on a run where a write of unknown outcome is finished by another process', () => {
  const slowElections = (c: ClusterConfig): ClusterConfig => ({ ...c, timing: { ...c.timing, electionTick: 200 } });

  /** The cluster's leader (from `raftkv status`) and its followers' pids (from the supervisor's record). */
  async function leaderAndFollowerPids(conf: string, dataDir: string): Promise<{ leader: string; pids: number[] }> {
    for (let i = 0; i < 60; i++) {
      const status = await runRaftkv(['status', '--config', conf]);
      const leader = /^(\S+)\s+\S+\s+leader\b/m.exec(status.stdout)?.[1];
      const servers = findSupervisor(dataDir)?.record?.servers ?? {};
      const pids = Object.entries(servers).filter(([id]) => id !== leader).map(([, m]) => m.pid);
      if (leader && pids.length === 2 && pids.every((p) => typeof p === 'number')) return { leader, pids: pids as number[] };
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error('no leader, or no follower pids in the supervisor record');
  }

  /** Polls `raftkv get key` until it prints `want` (at most 60 tries). */
  async function waitForValue(conf: string, env: NodeJS.ProcessEnv, key: string, want: string): Promise<void> {
    let got = '';
    for (let i = 0; i < 60; i++) {
      got = (await runRaftkv(['get', key, '--config', conf], { env })).stdout.trim();
      if (got === want) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`get ${key} printed ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
  }

  function expectClean(report: CheckReport): void {
    expect(failingRules(report), formatReport(report)).toEqual([]);
  }

  it('exit 3, then raftkv retry --client-id: one operation (its call the first attempt\'s, its result the retry\'s), linearizable', async () => {
    const { file, conf, env, dataDir } = await setUp('raftkv-check-retry-', slowElections);
    const up = await clusterUp(file, { ups, temps });
    expect((await runRaftkv(['incr', 'visits', '--config', conf], { env })).stdout).toBe('1\n');
    const { leader, pids } = await leaderAndFollowerPids(conf, dataDir);
    pids.forEach((pid) => process.kill(pid, 'SIGSTOP'));
    let first;
    try {
      first = await runRaftkv(['incr', 'visits', '--server', leader, '--timeout', '2000', '--client-id', 'myc3', '--config', conf], { env });
    } finally {
      pids.forEach((pid) => process.kill(pid, 'SIGCONT'));
    }
    expect(first.code, first.stderr).toBe(3);
    expect(first.stderr).toContain('raftkv retry --client-id myc3');
    // The first attempt is applied once the followers are back: a read sees it before the retry.
    await waitForValue(conf, env, 'visits', '2');
    const retry = await runRaftkv(['retry', '--client-id', 'myc3', '--config', conf], { env });
    expect(retry, retry.stderr).toMatchObject({ code: 0, stdout: '2\n' });
    expect(await up.stop()).toMatch(/stopped 3 servers/);

    const report = runChecks(up.runDir);
    expectClean(report);
    expect(report.results.find((r) => r.rule === 'linearizability')?.note).toMatch(/1 retried attempts merged with their operations/);
    const r = await runRaftkv(['check', up.runDir], { timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 240_000);

  // SIGINT is the user's Ctrl-C (today it ends the CLI process as it stands; a handler may
  // instead end it with "outcome unknown"); SIGKILL always leaves a life without KvslibStop.
  it.each(['SIGINT', 'SIGKILL'] as const)('%s on a write with a fixed --client-id, a read of the write, the same command again: check passes', async (signal) => {
    const { file, conf, env, dataDir } = await setUp('raftkv-check-ctrlc-', slowElections);
    const up = await clusterUp(file, { ups, temps });
    expect((await runRaftkv(['put', 'ck', 'v0', '--client-id', 'ctrlc', '--config', conf], { env })).stdout).toBe('OK\n');
    const { leader, pids } = await leaderAndFollowerPids(conf, dataDir);
    const args = ['put', 'ck', 'v1', '--client-id', 'ctrlc', '--config', conf];
    pids.forEach((pid) => process.kill(pid, 'SIGSTOP'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/raftkv.ts', ...args, '--server', leader, '--timeout', '60000'], {
        cwd: REPO,
        stdio: 'ignore',
        env: { ...process.env, ...env },
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // Ctrl-C once the leader has the write in its log (its RaftPutReq is in the trace).
      const trace = path.join(up.runDir, 'trace.jsonl');
      let seen = false;
      for (let i = 0; i < 240 && !seen; i++) {
        await new Promise((r) => setTimeout(r, 250));
        seen = existsSync(trace) && readFileSync(trace, 'utf8').split('\n').some((l) => l.includes('"RaftPutReq"') && l.includes('"ctrlc:2"'));
      }
      expect(seen, 'the leader to record RaftPutReq of ctrlc:2').toBe(true);
      process.kill(child.pid!, signal);
      await exited;
    } finally {
      pids.forEach((pid) => process.kill(pid, 'SIGCONT'));
    }
    // The interrupted write is applied once the followers are back; a read sees it.
    await waitForValue(conf, env, 'ck', 'v1');
    expect(await runRaftkv(args, { env })).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await up.stop()).toMatch(/stopped 3 servers/);

    const report = runChecks(up.runDir);
    expectClean(report);
    const note = (rule: string) => report.results.find((r) => r.rule === rule)?.note ?? '';
    const tags = readFileSync(path.join(up.runDir, 'trace.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { host: string; tag: string }).filter((e) => e.host === 'ctrlc').map((e) => e.tag);
    const died = tags.filter((t) => t === 'KvslibStop').length < tags.filter((t) => t === 'KvslibStart').length;
    if (signal === 'SIGKILL') expect(died).toBe(true);
    if (died) {
      // The process died: a life without KvslibStop, its write cut short, executed, seen by the read.
      expect(note('lifecycle'), formatReport(report)).toMatch(/^1 client lives ended without KvslibStop/);
      expect(note('linearizability'), formatReport(report)).toMatch(/1 writes cut short by their client's end taken as pending \(ctrlc:2\)/);
    }
    const r = await runRaftkv(['check', up.runDir], { timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 240_000);
});
