import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { membershipProblem } from '../../src/cluster/stored-membership.ts';
import { defaultConfig, writeConfig } from '../../src/server/config.ts';
import { freePorts, killCliChildren, runRaftkv } from '../integration/helpers.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-membership-'));
afterAll(() => {
  killCliChildren();
  rmSync(tmp, { recursive: true, force: true });
});

/** A data directory as a stopped 5-server cluster leaves it: cluster.json and a log per server. */
function storedCluster(name: string, n: number): string {
  const dir = path.join(tmp, name);
  const config = defaultConfig(n, 7100, dir);
  writeConfig(path.join(dir, 'cluster.json'), config);
  for (const s of config.servers) {
    mkdirSync(path.join(dir, s.id), { recursive: true });
    writeFileSync(path.join(dir, s.id, 'state.db'), '');
  }
  return dir;
}

describe('cluster up on a data directory that remembers another cluster', () => {
  it('the same servers are fine; fewer, more or other ones are refused with the way out', () => {
    const dir = storedCluster('five', 5);
    expect(membershipProblem(dir, defaultConfig(5, 7300, dir).servers)).toBeNull();
    for (const n of [2, 3, 7]) {
      const problem = membershipProblem(dir, defaultConfig(n, 7100, dir).servers);
      expect(problem).toContain('holds the data of a cluster of 5 servers (server0, server1, server2, server3, server4)');
      expect(problem).toContain('--nodes 5');
    }
    expect(membershipProblem(path.join(tmp, 'nothing-here'), defaultConfig(3).servers)).toBeNull();
  });

  it('servers that joined or were removed through membership changes (Raft §6) do not count', () => {
    const dir = storedCluster('grown', 3);
    mkdirSync(path.join(dir, 'server3'), { recursive: true });
    writeFileSync(path.join(dir, 'server3', 'state.db'), '');
    writeFileSync(path.join(dir, 'server3', 'member.json'), '{}');
    expect(membershipProblem(dir, defaultConfig(3, 7100, dir).servers)).toBeNull();
    writeFileSync(path.join(dir, 'server2', 'removed.json'), '{"index":9}');
    expect(membershipProblem(dir, defaultConfig(3, 7100, dir).servers)).toBeNull();
  });

  it('a server directory with a log counts even without cluster.json', () => {
    const dir = path.join(tmp, 'bare');
    mkdirSync(path.join(dir, 'server0'), { recursive: true });
    writeFileSync(path.join(dir, 'server0', 'log.db'), '');
    mkdirSync(path.join(dir, 'logs'), { recursive: true });
    expect(membershipProblem(dir, defaultConfig(1, 7100, dir).servers)).toBeNull();
    expect(membershipProblem(dir, defaultConfig(3, 7100, dir).servers)).toContain('cluster of 1 servers (server0)');
  });

  it('raftkv cluster up --nodes 2 on 5 servers\' data refuses with exit 1 and changes nothing', async () => {
    const dir = storedCluster('cli', 5);
    const before = readFileSync(path.join(dir, 'cluster.json'), 'utf8');
    const [port] = await freePorts(1);
    const r = await runRaftkv(['cluster', 'up', '--nodes', '2', '--base-port', String(port), '--data', dir, '--no-trace']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('could lose writes it acknowledged');
    expect(readFileSync(path.join(dir, 'cluster.json'), 'utf8')).toBe(before);
  });
});
