import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RUNS_DIR } from '../../src/chaos/run-state.ts';

/** `raftkv chaos | head -2`: the run stops as on Ctrl-C when its output is closed, and exits 141, not 1. */
const BIN = fileURLToPath(new URL('../../bin/raftkv.js', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-chaos-pipe-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('raftkv chaos with its output closed', () => {
  it('stops cleanly with exit 141 and leaves no process, temp dir or state file', async () => {
    const child = spawn(process.execPath, [BIN, 'chaos', '--servers', '3', '--clients', '1', '--duration', '30s', '--seed', '1', '--out', path.join(tmp, 'run')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let seen = '';
    // As head -2 does: read two lines, then close the pipe.
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.split('\n').length > 2) resolve();
      });
    });
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code, stderr).toBe(141);
    expect(stderr).not.toMatch(/EPIPE/);
    expect(readdirSync(RUNS_DIR).filter((f) => f.startsWith(`${child.pid}-`))).toEqual([]);
    expect(existsSync(path.join(tmp, 'run', 'logs'))).toBe(true);
  }, 90_000);
});
