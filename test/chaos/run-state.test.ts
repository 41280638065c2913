import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanLeftovers, RunStateFile } from '../../src/chaos/run-state.ts';

/** What a chaos run killed with SIGKILL leaves (a SIGSTOPped server, its temp dir) is cleaned by the next run. */
const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chaos-state-test-'));
const started: number[] = [];
afterAll(() => {
  for (const pid of started) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  rmSync(dir, { recursive: true, force: true });
});

function sleeper(name: string): number {
  // argv[1] names it, so /proc/<pid>/cmdline holds the name.
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', name], { detached: true, stdio: 'ignore' });
  started.push(child.pid!);
  return child.pid!;
}
const running = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('chaos run state', () => {
  it('kills the stopped processes, removes the temp dirs of a dead run, and leaves strangers and live runs alone', async () => {
    const server = sleeper('raftkv-server');
    const stranger = sleeper('someone-else');
    process.kill(server, 'SIGSTOP');
    const tempDir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chaos-'));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(path.join(dir, 'dead.json'), JSON.stringify({ owner: dead, pids: [server, stranger], namespaces: [], bridge: null, tempDirs: [tempDir] }));
    const live = new RunStateFile(dir);
    live.update({ pids: [server] });

    const lines = cleanLeftovers(dir);
    expect(lines).toEqual([`a killed run (pid ${dead}) left things behind: killed pids ${server}; removed ${tempDir}`]);
    for (let i = 0; i < 100 && running(server); i++) await new Promise((r) => setTimeout(r, 50));
    expect(running(server)).toBe(false);
    expect(running(stranger)).toBe(true);
    expect(existsSync(tempDir)).toBe(false);
    expect(existsSync(path.join(dir, 'dead.json'))).toBe(false);
    expect(existsSync(live.file)).toBe(true);
    live.remove();
    expect(cleanLeftovers(dir)).toEqual([]);
  });
});
