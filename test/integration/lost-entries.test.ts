import { readdirSync, readFileSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killCliChildren, runRaftkv, startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
afterEach(async () => {
  killCliChildren();
  await tc?.teardown();
  tc = null;
});

/** Cuts `file` to half its bytes, inside a line; returns how many whole lines (entries) remain. */
function cutInHalf(file: string): number {
  const bytes = readFileSync(file);
  let at = Math.floor(bytes.length / 2);
  if (bytes[at - 1] === 0x0a) at += 3;
  truncateSync(file, at);
  return bytes.subarray(0, at).toString('utf8').split('\n').length - 1;
}

describe('a follower whose log.db lost its tail', () => {
  it('refuses to start, naming the file and the missing entries; with --rejoin-empty it catches up and serves every value', async () => {
    tc = await startTestCluster(3);
    const t = tc;
    const leader = await t.cluster.waitForLeader();
    const victim = t.cluster.ids.find((id) => id !== leader)!;
    const c = await t.client({ serverId: leader });
    for (let i = 0; i < 30; i++) await c.put(`k${i}`, `v${i}`);
    const commit = (await t.cluster.status(leader)).commitIndex;
    expect(commit).toBe(31);
    const acked = (await t.cluster.waitFor(victim, (s) => s.appliedIndex >= commit, 10_000, `${victim} to apply ${commit}`)).lastLogIndex;

    await t.cluster.kill(victim); // kill -9
    const logFile = path.join(t.config.dataDir, victim, 'log.db');
    const kept = cutInHalf(logFile);
    expect(kept).toBeLessThan(acked);
    const damaged = readFileSync(logFile);

    // Refused: through the harness, and run directly with its exit code and stderr.
    const expected = `${logFile}: entries ${kept + 1}-${acked} were acknowledged but are missing (the file was truncated or damaged); start with --rejoin-empty to rejoin as an empty node`;
    await expect(t.cluster.start(victim)).rejects.toThrow(new RegExp(`${victim} exited while waiting`));
    expect(readFileSync(path.join(t.config.dataDir, 'logs', `${victim}.log`), 'utf8')).toContain(expected);
    const direct = await runRaftkv(['node', '--id', victim, '--config', path.join(t.dir, 'cluster.json')], { env: { RAFTKV_PARENT_PID: String(process.pid) } });
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain(expected);
    expect(readFileSync(logFile)).toEqual(damaged); // left as found

    // The other two serve on, and the leader does not count the victim's old match.
    expect((await c.put('while-down', 'yes')).value).toBe('yes');

    // Rejoin empty: the damaged file is set aside, the node refills and applies everything.
    await t.cluster.start(victim, { args: ['--rejoin-empty'] });
    const log = readFileSync(path.join(t.config.dataDir, 'logs', `${victim}.log`), 'utf8');
    expect(log).toContain(`${victim}: --rejoin-empty: ${logFile}: entries ${kept + 1}-${acked} were acknowledged but are missing (the file was truncated or damaged)`);
    expect(log).toContain(`no votes until the log reaches index ${acked} again`);
    const setAside = readdirSync(path.dirname(logFile)).filter((f) => f.startsWith('log.db.lost-'));
    expect(setAside).toHaveLength(1);
    expect(readFileSync(path.join(path.dirname(logFile), setAside[0]))).toEqual(damaged);
    const target = (await t.cluster.status(leader)).commitIndex;
    await t.cluster.waitFor(victim, (s) => s.appliedIndex >= target, 20_000, `${victim} to catch up to ${target}`);

    // It serves every value itself: with the leader gone, it and the third elect a leader.
    await t.cluster.kill(leader);
    await t.cluster.waitForLeader(20_000);
    const r = await t.client({ serverId: victim, opTimeoutMs: 30_000 });
    const keys = [...Array.from({ length: 30 }, (_, i) => `k${i}`), 'while-down'];
    expect((await r.mget(keys)).values).toEqual([...Array.from({ length: 30 }, (_, i) => `v${i}`), 'yes']);
  }, 120_000);
});
