import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../integration/helpers.ts';
import { alive, waitFor } from './fakes.ts';

/** Without a terminal the UI reads commands from stdin and prints results, and says so. */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const running = new Set<ChildProcess>();
const dirs: string[] = [];
const serverPids: number[] = [];
let tc: TestCluster | null = null;

afterEach(() => {
  for (const c of running) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
  running.clear();
});
afterAll(async () => {
  for (const pid of serverPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // stopped, as it should be
    }
  }
  await tc?.teardown();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function tui(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/tui/main.tsx', ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

/** Sends one command and waits until its answer is printed. */
async function send(run: Run, line: string, answer: RegExp, timeoutMs = 30_000): Promise<void> {
  run.child.stdin!.write(`${line}\n`);
  await waitFor(() => answer.test(run.out() + run.err()), () => `${answer} after "${line}"; stdout:\n${run.out()}\nstderr:\n${run.err()}`, timeoutMs);
}

describe('plain line mode (stdin is not a terminal)', () => {
  it('attached: client commands work, process control is refused, the cluster keeps running', { timeout: 120_000 }, async () => {
    tc = await startTestCluster(3);
    await tc.cluster.waitForLeader();
    const run = tui(['--attach', '--config', path.join(tc.dir, 'cluster.json')]);
    await waitFor(() => run.err().includes('not a terminal: plain line mode'), () => `the line-mode notice; stderr:\n${run.err()}`, 30_000);
    await send(run, 'put a 1', /\[op 1\] put a 1 -> 1 {2}\(server server\d, [\d.]+ ms\)/);
    await send(run, 'get a', /\[op 2\] get a -> 1 {2}\(server server\d/);
    await send(run, 'mget a b', /\[op 3\] mget a b ->\n {2}a\t1\n {2}b\t\n/);
    await send(run, 'kill server0', /error: kill server0: not available: this UI did not launch the cluster/);
    await send(run, 'leader', /leader: server\d \(term \d+, commit \d+\); 3 of 3 servers follow it/);
    await send(run, 'frob', /error: frob: unknown command "frob"/);
    await send(run, 'help', /partition <server> +cut it off \(a cluster this UI launched\)/);
    run.child.stdin!.write('quit\n');
    expect(await run.exited).toBe(0);
    expect(run.err()).toContain('the cluster keeps running');
    expect(await tc.cluster.statuses()).toHaveLength(3);
  });

  it('npm start without a terminal: launches, runs commands, stops everything at end of input', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-tui-line-'));
    dirs.push(dir);
    const run = tui(['--nodes', '3', '--data', path.join(dir, 'data'), '--traces', path.join(dir, 'traces'), '--run', 'line']);
    await waitFor(() => run.err().includes('plain line mode'), () => `the line-mode notice; stderr:\n${run.err()}`, 60_000);
    await send(run, 'put x 9', /\[op 1\] put x 9 -> 9/);
    await send(run, 'status', /server2 +127\.0\.0\.1:\d+ +up/);
    for (const m of run.out().matchAll(/^server\d +\S+ +up +\S+ +\d+ +\d+ +\d+ +\d+ +\d+\/\S+ +\d+MiB +(\d+)$/gm)) serverPids.push(Number(m[1]));
    expect(serverPids).toHaveLength(3);
    await send(run, 'kill server1', /killed server1 \(kill -9\)/);
    await send(run, 'get x', /\[op 2\] get x -> 9/);
    await send(run, 'restart server1', /server1 restarted|server1 started/);
    run.child.stdin!.end();
    expect(await run.exited).toBe(0);
    expect(run.err()).toContain('end of input: quitting');
    expect(run.err()).toMatch(/stopped 3 servers/);
    expect(run.err()).toMatch(/trace in .*line \(shiviz\.log, trace\.jsonl, history\.json\)/);
    await waitFor(() => serverPids.every((p) => !alive(p)), () => `every server to stop; alive: ${serverPids.filter(alive).join(', ')}`, 15_000);
  });
});
