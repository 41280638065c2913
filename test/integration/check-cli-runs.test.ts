import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { KvClient } from '../../src/client/kv-client.ts';
import { defaultConfig, writeConfig, type ClusterConfig } from '../../src/server/config.ts';
import { WRITING_MARKER } from '../../tracing/run-writer.ts';
import { formatReport, runChecks } from '../../tracing/check/report.ts';
import { failingRules } from '../check/mutate.ts';
import { clusterUp, trackUps } from './cluster-up.ts';
import { freePorts, runRaftkv } from './helpers.ts';

/**
 * `raftkv check` on runs made the way a user makes them: `raftkv cluster up` (traced), CLI
 * client commands, `cluster down` or Ctrl-C. Real processes: the supervisor, its servers
 * and tracing server, and one process per CLI command.
 */

const { ups, temps } = trackUps();

/** A 3-server config on free ports in a fresh temp dir; the client commands' state dir beside it. */
async function setUp(prefix: string): Promise<{ file: string; conf: string; env: NodeJS.ProcessEnv }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  const ports = await freePorts(3);
  const base = defaultConfig(3, 0, path.join(dir, 'data'));
  const file = writeConfig(path.join(dir, 'cluster-in.json'), { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })) });
  return { file, conf: path.join(dir, 'data', 'cluster.json'), env: { RAFTKV_STATE_DIR: path.join(dir, 'state') } };
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
