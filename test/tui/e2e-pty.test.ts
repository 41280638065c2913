import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server/config.ts';
import { AdminClient } from '../../src/transport/admin-client.ts';
import { alive, waitFor } from './fakes.ts';
import { ptyTool, startPty, type Pty } from './pty.ts';

/**
 * `npm start` as a person runs it, in a real 80x24 pseudo-terminal: it launches 5 servers
 * and a tracing server, we type a put and a get, kill the leader from the UI, put again,
 * read the screen after each step, and quit: every process it started must be gone.
 */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const tool = ptyTool();
const COLS = 80;
const ROWS = 24;

let pty: Pty | null = null;
let tmp = '';
const pids: number[] = [];

afterAll(() => {
  pty?.close();
  // Only if the UI failed to stop them: the servers it started, by pid.
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Polls the screen until it matches; returns the match. The failure shows the screen. */
async function see(re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  let m: RegExpMatchArray | null = null;
  await waitFor(() => (m = pty!.screen().match(re)) !== null, () => `${re} on the screen; it shows:\n${pty!.screen()}`, timeoutMs);
  return m!;
}

function command(text: string): void {
  pty!.type(text);
  pty!.enter();
}

describe(`terminal UI end to end in a pseudo-terminal (${tool ?? 'none'})`, () => {
  if (!tool) {
    console.warn('terminal UI e2e skipped: neither tmux nor script (util-linux) is installed (apt-get install tmux)');
    it.skip('skipped: neither tmux nor script (util-linux) is installed, so there is no pseudo-terminal to run the UI in', () => undefined);
    return;
  }

  it('npm start: put, get, kill the leader, put again, quit stops everything', { timeout: 180_000 }, async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-tui-e2e-'));
    const data = path.join(tmp, 'data');
    const traces = path.join(tmp, 'traces');
    // CI=true stays in the environment on purpose: the UI must draw live screens anyway.
    pty = startPty(tool, {
      argv: [process.execPath, '--import', 'tsx', 'src/tui/main.tsx', '--nodes', '5', '--data', data, '--traces', traces, '--run', 'e2e'],
      cwd: REPO,
      cols: COLS,
      rows: ROWS,
      dir: tmp,
    });

    const [, leader] = await see(/5\/5 up {2}leader (server\d) \(term \d+\)/, 60_000);
    const first = pty.screen();
    if (tool === 'tmux') {
      const lines = first.replace(/\n$/, '').split('\n');
      expect(lines).toHaveLength(ROWS);
      expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(COLS);
    }
    for (let i = 0; i < 5; i++) expect(first).toMatch(new RegExp(`server${i}\\s+(leader|follower)\\s+\\d+`));

    // The servers' pids, so we can check that quitting stopped them.
    const config = loadConfig(path.join(data, 'cluster.json'));
    for (const s of config.servers) {
      const admin = new AdminClient(s.addr);
      try {
        pids.push((await admin.status(2000)).pid);
      } finally {
        admin.close();
      }
    }
    expect(pids).toHaveLength(5);

    command('put k1 hello');
    await see(/\b1 {2}put k1 hello\s+hello\s+server\d\s+[\d.]+ ms/);
    command('get k1');
    await see(/\b2 {2}get k1\s+hello\s+server\d\s+[\d.]+ ms/);

    command(`kill ${leader}`);
    await see(new RegExp(`killed ${leader} \\(kill -9\\); it was the leader`));
    await see(new RegExp(`4/5 up {2}leader (?!${leader}\\b)(server\\d) \\(term \\d+\\)`), 30_000);
    // Down: no role; its last term, commit, applied, snapshot index and log entries stay shown.
    await see(new RegExp(`${leader}\\s+-\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+\\d+\\s+-\\s+down`));

    command('put k2 world');
    const [, servedBy] = await see(/\b3 {2}put k2 world\s+world\s+(server\d)\s+[\d.]+ ms/);
    expect(servedBy).not.toBe(leader);

    command('get');
    await see(/error: get takes <key>/);
    command('trace');
    await see(/trace files: .*e2e/);

    command('quit');
    await waitFor(() => pty!.exitCode() !== null, () => `the UI to exit after quit; screen:\n${pty!.screen()}`, 30_000);
    expect(pty.exitCode()).toBe(0);
    await waitFor(() => pids.every((p) => !alive(p)), () => `every server to stop; alive: ${pids.filter(alive).join(', ')}`, 15_000);

    // The UI's operations are in the trace, as client tui-<pid>.
    const runDir = path.join(traces, 'e2e');
    expect(existsSync(runDir)).toBe(true);
    expect(readdirSync(runDir).sort()).toEqual(['history.json', 'shiviz.log', 'trace.jsonl']);
    const trace = readFileSync(path.join(runDir, 'trace.jsonl'), 'utf8');
    expect(trace).toMatch(/"host":"tui-\d+","traceId":"tui-\d+:1","tag":"PutStart"/);
    expect(trace).toMatch(/"host":"tui-\d+","traceId":"tui-\d+:3","tag":"PutResultRecvd"/);
  });
});
