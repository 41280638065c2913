import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeState, toStateDoc } from '../../src/storage/state-doc.ts';
import { killCliChildren, runRaftkv, startTestCluster, type CliResult, type TestCluster } from './helpers.ts';


let tc: TestCluster | null = null;
afterEach(async () => {
  killCliChildren();
  await tc?.teardown();
  tc = null;
});

/** A cluster with `writes` committed and applied on every server, then every server stopped (SIGTERM). */
async function writtenAndStopped(writes: number): Promise<{ tc: TestCluster; commitIndex: number }> {
  const t = await startTestCluster(3);
  tc = t;
  const leader = await t.cluster.waitForLeader();
  const c = await t.client();
  for (let i = 0; i < writes; i++) await c.put(`k${i}`, `v${i}`);
  const commitIndex = (await t.cluster.status(leader)).commitIndex;
  await Promise.all(t.cluster.ids.map((id) => t.cluster.waitFor(id, (s) => s.appliedIndex >= commitIndex, 10_000, `${id} to apply ${commitIndex}`)));
  // kill, not stopAll: stopAll also closes the admin clients the restarts below need.
  await Promise.all(t.cluster.ids.map((id) => t.cluster.kill(id, 'SIGTERM')));
  return { tc: t, commitIndex };
}

function dataFile(t: TestCluster, id: string, file: 'log.db' | 'state.db'): string {
  return path.join(t.config.dataDir, id, file);
}

function serverLog(t: TestCluster, id: string): string {
  return readFileSync(path.join(t.config.dataDir, 'logs', `${id}.log`), 'utf8');
}

/** Runs one server directly (not through ProcessCluster) to see its exit code and stderr. */
function runNodeProcess(t: TestCluster, id: string): Promise<CliResult> {
  return runRaftkv(['node', '--id', id, '--config', path.join(t.dir, 'cluster.json')], { env: { RAFTKV_PARENT_PID: String(process.pid) } });
}

describe('a server whose datafiles are damaged', () => {
  it('refuses to start on a corrupt middle line of log.db, naming the file and line; the rest serve on', async () => {
    const { tc: t } = await writtenAndStopped(20);
    const file = dataFile(t, 'server1', 'log.db');
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.at(-1)).toBe(''); // every line ends in '\n'
    expect(lines.length).toBeGreaterThan(10);
    const broken = Math.floor((lines.length - 1) / 2); // 0-based, well inside the file
    lines[broken] = lines[broken].slice(0, Math.floor(lines[broken].length / 2)) + '#garbage#';
    writeFileSync(file, lines.join('\n'));
    const line = broken + 1;

    // ProcessCluster.start fails because the process exits before answering Status.
    await Promise.all(['server0', 'server2'].map((id) => t.cluster.start(id)));
    await expect(t.cluster.start('server1')).rejects.toThrow(/server1 exited while waiting for server1 to answer Status/);
    expect(t.cluster.state('server1')).toBe('down');
    const log = serverLog(t, 'server1');
    expect(log).toContain(`${file} line ${line}: unreadable line`);

    // Run directly: it exits 1, and says the same on stderr.
    const direct = await runNodeProcess(t, 'server1');
    expect(direct.signal).toBeNull();
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain(`${file} line ${line}: unreadable line`);
    // Nothing was rewritten: the damage is still there for an operator to look at.
    expect(readFileSync(file, 'utf8').split('\n')[broken]).toContain('#garbage#');

    // Two of three are a majority: the cluster still serves, old data included.
    await t.cluster.waitForLeader();
    const c = await t.client({ serverId: 'server2' });
    expect((await c.get('k19')).value).toBe('v19');
    expect((await c.put('after', 'corruption')).value).toBe('corruption');
  });

  it('refuses a hard state whose commitIndex is past the watermark written beside it, or whose checksum fails', async () => {
    const { tc: t } = await writtenAndStopped(5);
    const file = dataFile(t, 'server0', 'state.db');
    const lines = readFileSync(file, 'utf8').split('\n');
    const last = lines.length - 2; // the live hard state: the last complete line
    const doc = JSON.parse(lines[last]) as { _id: string; stableIndex: number };
    expect(doc._id).toBe('hardState');
    // A well-formed record (its checksum recomputed) that the store would never write.
    const stored = decodeState(file, new Map([['hardState', { doc, line: 1 }]]));
    lines[last] = JSON.stringify(toStateDoc({ ...stored, hardState: { ...stored.hardState, commitIndex: 1_000_000 } }));
    writeFileSync(file, lines.join('\n'));
    const expected = `${file} line ${last + 1}: commitIndex 1000000 is past stableIndex ${doc.stableIndex}`;

    await expect(t.cluster.start('server0')).rejects.toThrow(/server0 exited while waiting/);
    expect(serverLog(t, 'server0')).toContain(expected);
    // A refused file is left exactly as found, so the next run names the same line.
    expect(readFileSync(file, 'utf8')).toBe(lines.join('\n'));
    const direct = await runNodeProcess(t, 'server0');
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain(expected);

    // The same edit without a new checksum: the record is damaged.
    lines[last] = JSON.stringify({ ...doc, commitIndex: 1_000_000 });
    writeFileSync(file, lines.join('\n'));
    const again = await runNodeProcess(t, 'server0');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${file} line ${last + 1}: checksum mismatch`);
  });

  it('cuts off a torn last line (a write never acknowledged) and rejoins', async () => {
    const { tc: t, commitIndex } = await writtenAndStopped(10);
    const file = dataFile(t, 'server2', 'log.db');
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    appendFileSync(file, '{"_id":"999","index":999,"te');

    await Promise.all(t.cluster.ids.map((id) => t.cluster.start(id)));
    expect(readFileSync(file, 'utf8').includes('"_id":"999"')).toBe(false);
    const leader = await t.cluster.waitForLeader();
    const c = await t.client({ serverId: 'server2' });
    await c.put('after-repair', 'yes');
    const target = (await t.cluster.status(leader)).commitIndex;
    expect(target).toBeGreaterThan(commitIndex);
    await t.cluster.waitFor('server2', (s) => s.appliedIndex >= target, 10_000, 'server2 to catch up');
    expect((await c.mget(['k0', 'k9', 'after-repair'])).values).toEqual(['v0', 'v9', 'yes']);
  });
});
