import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE } from '../../src/cli/usage.ts';
import { freePorts } from '../integration/helpers.ts';

/**
 * The `raftkv` command as installed (package.json "bin": bin/raftkv.js), run from a
 * directory that is not the repository: with the bundle in dist/cli/ (built here as
 * `npm ci` builds it), and from the sources through tsx (forced with RAFTKV_FROM_SOURCE,
 * as when dist/ is missing or older than the sources).
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(REPO, 'bin', 'raftkv.js');

let elsewhere: string;
beforeAll(async () => {
  elsewhere = mkdtempSync(path.join(os.tmpdir(), 'raftkv-bin-'));
  const build = await run(process.execPath, [path.join(REPO, 'scripts', 'build-cli.mjs')], { cwd: REPO, timeoutMs: 60_000 });
  if (build.code !== 0) throw new Error(`npm run build failed: ${build.stderr}`);
});

const BUNDLED = {};
const FROM_SOURCE = { RAFTKV_FROM_SOURCE: '1' };
afterAll(() => {
  rmSync(elsewhere, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command and collects its output; SIGKILLed (by pid) if it outlives `timeoutMs`. */
function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; until?: RegExp }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const stop = () => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL');
    const timer = setTimeout(stop, opts.timeoutMs ?? 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      // A server that runs until stopped: stop it (by pid) once it has said what we wait for.
      if (opts.until?.test(stdout) && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the raftkv bin', () => {
  it('prints the usage from any directory, bundled or from source', async () => {
    for (const env of [BUNDLED, FROM_SOURCE]) {
      const r = await run(process.execPath, [BIN, '--help'], { cwd: elsewhere, env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trimEnd()).toBe(USAGE);
      // No note: the fresh bundle ran (or the sources, as asked).
      expect(r.stderr).toBe('');
    }
  });

  it('finds protos/ from any directory: status against servers that are not there exits 4', async () => {
    const holders = await Promise.all([0, 1].map(() => new Promise<net.Server>((resolve) => {
      const s = net.createServer((sock) => sock.destroy());
      s.listen(0, '127.0.0.1', () => resolve(s));
    })));
    try {
      const file = path.join(elsewhere, 'down.json');
      writeFileSync(file, JSON.stringify({ servers: holders.map((h, i) => ({ id: `s${i}`, addr: `127.0.0.1:${(h.address() as net.AddressInfo).port}` })) }));
      for (const env of [BUNDLED, FROM_SOURCE]) {
        const r = await run(process.execPath, [BIN, 'status', '--config', 'down.json'], { cwd: elsewhere, env });
        expect(r.code, r.stderr).toBe(4);
        expect(r.stdout).toMatch(/^server\s+addr\s+role/);
      }
    } finally {
      holders.forEach((h) => h.close());
    }
  });

  it('npx raftkv runs it in the repository', async () => {
    const r = await run('npx', ['--no-install', 'raftkv', '--help'], { cwd: REPO, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('raftkv - a traced Raft key-value store');
  });

  it('--help lists every option the command line accepts', () => {
    const source = readFileSync(path.join(REPO, 'src/cli/raftkv.ts'), 'utf8');
    const options = [...source.matchAll(/^\s+'?([a-z][a-z-]*)'?: \{ type: '(?:string|boolean)'/gm)].map((m) => m[1]);
    expect(options.length).toBeGreaterThan(10);
    expect(options.filter((o) => !USAGE.includes(`--${o}`))).toEqual([]);
  });

  it('trace-server --host binds the address given', async () => {
    const [port] = await freePorts(1);
    const r = await run(process.execPath, [BIN, 'trace-server', '--host', '127.0.0.2', '--port', String(port), '--data', elsewhere, '--run', 'host-test'], {
      cwd: elsewhere,
      until: /flushed|tracing server on \S+/,
    });
    expect(r.stdout).toContain(`tracing server on 127.0.0.2:${port}`);
  });
});
