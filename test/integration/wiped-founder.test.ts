import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
afterEach(async () => {
  await tc?.teardown();
  tc = null;
});

describe('a founding server whose data directory was wiped', () => {
  it('is refused while the leader that saw it acknowledge entries runs, with the way to replace it (demo scenarios 7-8 start founders that never ran, late)', async () => {
    tc = await startTestCluster(3);
    const t = tc;
    const leader = await t.cluster.waitForLeader();
    const [victim] = t.cluster.ids.filter((id) => id !== leader);
    const c = await t.client({ serverId: leader });
    for (let i = 0; i < 10; i++) await c.put(`k${i}`, `v${i}`);
    await t.cluster.waitFor(leader, (s) => s.peers.find((p) => p.id === victim)!.matchIndex >= 11, 10_000, `${leader} to see ${victim} acknowledge`);

    await t.cluster.kill(victim);
    rmSync(path.join(t.config.dataDir, victim), { recursive: true, force: true });
    await expect(t.cluster.start(victim)).rejects.toThrow(/exited while waiting/);
    const log = readFileSync(t.cluster.logFile(victim), 'utf8');
    expect(log).toContain(`${victim} has no data in ${path.join(t.config.dataDir, victim)}, but the running cluster's leader ${leader} has it acknowledging entries up to`);
    expect(log).toContain(`Replace it: \`raftkv member remove ${victim}\``);
    expect((await c.put('still', 'serving')).value).toBe('serving');

  }, 60_000);
});
