import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { formatOffender, runChecks } from '../../tracing/check/report.ts';
import { startTestCluster, type TestCluster } from './helpers.ts';

let tc: TestCluster | null = null;
let collector: Collector | null = null;
let traceRoot: string | null = null;
afterEach(async () => {
  await tc?.teardown();
  await collector?.stop();
  if (traceRoot) rmSync(traceRoot, { recursive: true, force: true });
  tc = null;
  collector = null;
  traceRoot = null;
});

describe('traces of runs with snapshots pass every rule', () => {
  it('a follower whose snapshot.bin is damaged rejoins empty, installs the leader\'s snapshot, restarts: its Applies are traced once each', async () => {
    traceRoot = mkdtempSync(path.join(os.tmpdir(), 'raftkv-snaptrace-'));
    collector = await startCollector({ dir: path.join(traceRoot, 'run') });
    const addr = collector.addr;
    tc = await startTestCluster(3, (c) => ({ ...c, traceServer: addr, compaction: { snapshotCount: 20, catchUpEntries: 5 } }));
    const t = tc;
    const leader = await t.cluster.waitForLeader();
    const victim = t.cluster.ids.find((id) => id !== leader)!;
    const c = await t.client({ clientId: 'writer', serverId: leader, traceServer: addr });
    for (let i = 0; i < 50; i++) await c.put(`k${i}`, `v${i}`);
    const target = (await t.cluster.status(leader)).commitIndex;
    const before = await t.cluster.waitFor(victim, (s) => s.appliedIndex >= target && s.snapshotIndex > 0, 10_000, `${victim} to apply ${target} and snapshot`);

    // Its snapshot is damaged: refused at start; --rejoin-empty sets it aside with the log.
    await t.cluster.kill(victim);
    const snapshotFile = path.join(t.config.dataDir, victim, 'snapshot.bin');
    const bytes = readFileSync(snapshotFile);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(snapshotFile, bytes);
    await expect(t.cluster.start(victim)).rejects.toThrow(/exited while waiting/);
    expect(readFileSync(path.join(t.config.dataDir, 'logs', `${victim}.log`), 'utf8')).toMatch(/snapshot data checksum mismatch/);
    await t.cluster.start(victim, { args: ['--rejoin-empty'] });
    // No new write: what it applies now (after the snapshot, up to what it had applied
    // before) was traced in its earlier life, so its last traced action is the restore.
    await t.cluster.waitFor(victim, (s) => s.appliedIndex >= target, 20_000, `${victim} to catch up to ${target}`);

    // A plain restart: the spool says how far its Applies were traced, none is traced twice.
    await t.cluster.kill(victim);
    await t.cluster.start(victim);
    await c.put('after', 'restart');
    const last = (await t.cluster.status(leader)).commitIndex;
    const after = await t.cluster.waitFor(victim, (s) => s.appliedIndex >= last, 20_000, `${victim} to apply ${last}`);
    expect(after.snapshotIndex).toBeGreaterThanOrEqual(before.snapshotIndex);

    await t.teardown();
    tc = null;
    collector.flush();
    writeFileSync(path.join(collector.dir, 'meta.json'), JSON.stringify({ servers: t.cluster.ids }));
    const report = runChecks(collector.dir);
    const failed = report.results.filter((r) => r.status === 'FAIL').map((r) => `${r.rule}: ${r.offenders.slice(0, 3).map(formatOffender).join('; ')}`);
    expect(failed).toEqual([]);
    expect(report.results.find((r) => r.rule === 'install-snapshot')?.note).toMatch(/[1-9]\d* InstallSnapshot sent/);
  }, 120_000);
});
