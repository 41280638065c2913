import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NetNamespaces } from '../../src/chaos/netns.ts';
import { cleanLeftovers } from '../../src/chaos/run-state.ts';

/**
 * Real partitions for chaos runs (--net namespaces): a namespace per server behind a
 * bridge, and a cut drops the packets between two of them, silently, while the root
 * namespace still reaches both. Needs root and iproute2: skipped otherwise, saying why.
 */
const why = NetNamespaces.unavailable();
const children: ChildProcess[] = [];
let net: NetNamespaces | null = null;

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  net?.teardownSync();
});

const LISTEN = `require('node:net').createServer((s) => s.end('hi')).listen(Number(process.argv[2]), process.argv[1], () => console.log('listening'))`;
const CONNECT = `const s = require('node:net').connect(Number(process.argv[2]), process.argv[1]); const t = setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, 1500); s.on('data', () => { console.log('OK'); process.exit(0); }); s.on('error', (e) => { console.log('ERROR ' + e.message); process.exit(0); });`;

function connect(prefix: string[], host: string, port: number): string {
  const [cmd, ...args] = [...prefix, process.execPath, '-e', CONNECT, host, String(port)];
  return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
}

describe.skipIf(why !== null)(`network namespaces${why ? ` (skipped: ${why})` : ''}`, () => {
  it('drops the packets of a cut link only, and leaves nothing behind', async () => {
    net = await NetNamespaces.create(['a', 'b']);
    const port = 7590;
    const listener = spawn(net.spawnPrefix('b')[0], [...net.spawnPrefix('b').slice(1), process.execPath, '-e', LISTEN, net.addressOf('b'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(listener);
    await new Promise<void>((resolve) => listener.stdout!.once('data', () => resolve()));
    expect(connect(net.spawnPrefix('a'), net.addressOf('b'), port)).toBe('OK');
    await net.setCuts([['a', 'b']]);
    expect(connect(net.spawnPrefix('a'), net.addressOf('b'), port)).toBe('TIMEOUT');
    // Clients and admin calls come from the root namespace, which is never cut.
    expect(connect([], net.addressOf('b'), port)).toBe('OK');
    await net.setCuts([]);
    expect(connect(net.spawnPrefix('a'), net.addressOf('b'), port)).toBe('OK');

    const { runId, bridge } = net;
    listener.kill('SIGKILL');
    net.teardownSync();
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(runId);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(bridge);
  }, 30_000);

  it('removes what a run killed with SIGKILL left behind, at the next start', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chaos-state-test-'));
    const orphan = await NetNamespaces.create(['s1', 's2', 's3']);
    expect(orphan.namespaces).toEqual([`${orphan.runId}-s1`, `${orphan.runId}-s2`, `${orphan.runId}-s3`]);
    // Its owner is now a process that has exited.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(path.join(dir, 'x.json'), JSON.stringify({ owner: dead, pids: [], namespaces: orphan.namespaces, bridge: orphan.bridge, tempDirs: [] }));
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(`${orphan.runId}-s3`);
    expect(cleanLeftovers(dir)[0]).toContain(`removed namespaces ${orphan.namespaces.join(', ')} and bridge ${orphan.bridge}`);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(orphan.runId);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(orphan.bridge);
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);
});
