import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatReport, runChecks } from '../../tracing/check/report.ts';
import { defaultConfig, writeConfig } from '../../src/server/config.ts';
import { failingRules, mutateRun } from '../check/mutate.ts';
import { clusterUp, trackUps } from './cluster-up.ts';
import { freePorts, runRaftkv } from './helpers.ts';

/**
 * `raftkv cluster up`, `put z 1`, Ctrl-C, `cluster up` again on the same data, `get z` -> 1:
 * the second run's trace starts over the first run's data, so `raftkv check` must not take
 * z to start absent (it did: a linearizability FAIL on a correct run). Real processes: two
 * supervisors, their servers and tracing servers, and CLI clients.
 */

const { ups, temps } = trackUps();

/** Runs a client command on the cluster of `conf`, expects exit 0; its output, trimmed. */
function cliOn(conf: string): (...args: string[]) => Promise<string> {
  return async (...args) => {
    const r = await runRaftkv([...args, '--config', conf]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return r.stdout.trim();
  };
}

describe('raftkv check on a cluster up run that starts over an earlier run\'s data', () => {
  it('passes (the old value is the initial one), and still fails two reads that disagree with nothing written between', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-check-existing-'));
    temps.push(dir);
    const ports = await freePorts(3);
    const base = defaultConfig(3, 0, path.join(dir, 'data'));
    const file = writeConfig(path.join(dir, 'cluster-in.json'), { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })) });
    const cli = cliOn(path.join(dir, 'data', 'cluster.json'));

    const first = await clusterUp(file, { ups, temps });
    expect(await cli('put', 'z', '1')).toBe('OK');
    expect(await first.stop()).toMatch(/stopped 3 servers/);

    const second = await clusterUp(file, { ups, temps });
    expect(await cli('get', 'z')).toBe('1');
    expect(await cli('get', 'z')).toBe('1');
    expect(await cli('get', 'fresh')).toBe('');
    expect(await second.stop()).toMatch(/stopped 3 servers/);

    const meta = (runDir: string) => JSON.parse(readFileSync(path.join(runDir, 'meta.json'), 'utf8')) as { existingData?: boolean; servers?: string[] };
    expect(meta(first.runDir)).toMatchObject({ existingData: false, servers: ['server0', 'server1', 'server2'] });
    expect(meta(second.runDir)).toMatchObject({ existingData: true });

    // Both runs pass `raftkv check`, the second because z starts from an unknown value.
    for (const runDir of [first.runDir, second.runDir]) {
      const r = await runRaftkv(['check', runDir], { timeoutMs: 60_000 });
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    const report = runChecks(second.runDir);
    const lin = report.results.find((r) => r.rule === 'linearizability')!;
    expect(lin.status, formatReport(report)).toBe('PASS');
    expect(lin.note).toMatch(/initial values unknown for 1 key \(z\)/);
    expect(runChecks(first.runDir).results.find((r) => r.rule === 'linearizability')!.note).not.toMatch(/initial values unknown/);

    // Only z: a key the old data never wrote still starts absent, and one value per key.
    const history = () => JSON.parse(readFileSync(path.join(second.runDir, 'history.json'), 'utf8')) as { op: { type: string; key?: string }; output?: { value: string } }[];
    expect(history().filter((h) => h.op.type === 'get').map((h) => [h.op.key, h.output?.value])).toEqual([['z', '1'], ['z', '1'], ['fresh', '']]);
    const setRead = (key: string, nth: number, value: string) =>
      mutateRun(second.runDir, (run) => {
        const get = run.history.filter((h) => h.op.type === 'get' && h.op.key === key)[nth];
        get.output!.value = value;
        run.records.find((r) => r.traceId === `${get.clientId}:${get.opId}` && r.tag === 'GetResultRecvd')!.body.value = value;
      });
    for (const broken of [setRead('z', 1, '2'), setRead('fresh', 0, 'old')]) {
      temps.push(broken);
      const r = runChecks(broken);
      expect(failingRules(r), formatReport(r)).toEqual(['linearizability']);
    }
  }, 180_000);

  it('passes when the servers start from their snapshots: the old commands are not in the trace, so every key starts unknown', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-check-existing-snap-'));
    temps.push(dir);
    const ports = await freePorts(3);
    const base = defaultConfig(3, 0, path.join(dir, 'data'));
    const config = { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })), compaction: { snapshotCount: 2, catchUpEntries: 0 } };
    const file = writeConfig(path.join(dir, 'cluster-in.json'), config);
    const cli = cliOn(path.join(dir, 'data', 'cluster.json'));

    const first = await clusterUp(file, { ups, temps });
    for (const [k, v] of [['a', '1'], ['b', '2'], ['c', '3'], ['d', '4']]) expect(await cli('put', k, v)).toBe('OK');
    expect(await cli('incr', 'n')).toBe('1');
    await first.stop();

    const second = await clusterUp(file, { ups, temps });
    expect(await cli('get', 'a')).toBe('1');
    expect(await cli('incr', 'n')).toBe('2');
    expect(await cli('get', 'd')).toBe('4');
    await second.stop();

    const records = readFileSync(path.join(second.runDir, 'trace.jsonl'), 'utf8');
    const report = runChecks(second.runDir);
    expect(failingRules(report), formatReport(report)).toEqual([]);
    const lin = report.results.find((r) => r.rule === 'linearizability')!;
    expect(lin.note, records.slice(0, 2000)).toMatch(/initial values unknown for every key/);
    const r = await runRaftkv(['check', second.runDir], { timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 180_000);
});
