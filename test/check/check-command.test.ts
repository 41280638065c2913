import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_HELP, checkMain, runCheckCommand } from '../../src/cli/check-command.ts';
import { SCENARIOS } from '../../scenarios/index.ts';
import { loadRun } from '../../tracing/check/load.ts';
import { Trace } from '../../tracing/check/trace.ts';
import type { TraceRecord } from '../../tracing/record.ts';
import { formatJsonl, formatShiViz } from '../../tracing/shiviz.ts';

/**
 * What `raftkv check` prints around the report and how it treats its argument: the names
 * of a scenario's rules, a missing directory, a file inside a run, --help. A tiny
 * hand-written run (one server that started and listened) is enough: none of this grades it.
 */

let root: string;
let run: string;
beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-checkcmd-'));
  run = path.join(root, 'run');
  const records: TraceRecord[] = [
    { host: 'server0', traceId: '', tag: 'ServerStart', body: { serverId: 'server0' }, clock: { server0: 1 } },
    { host: 'server0', traceId: '', tag: 'ServerListening', body: { serverId: 'server0' }, clock: { server0: 2 } },
  ];
  writeFileSync(path.join(root, 'placeholder'), '');
  mkdirSync(run);
  writeFileSync(path.join(run, 'trace.jsonl'), formatJsonl(records));
  writeFileSync(path.join(run, 'shiviz.log'), formatShiViz(records));
  writeFileSync(path.join(run, 'history.json'), '[]');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function capture(f: (io: { out: (t: string) => void; err: (t: string) => void }) => number): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = f({ out: (t) => out.push(...t.split('\n')), err: (t) => err.push(...t.split('\n')) });
  return { code, out, err };
}

describe('raftkv check: names, arguments, help', () => {
  it("names a scenario's rules as their results do (not as the functions are called), below the header", () => {
    for (const scenario of SCENARIOS.filter((s) => (s.traceRules ?? []).length > 0)) {
      writeFileSync(path.join(run, 'meta.json'), JSON.stringify({ servers: ['server0'], scenario: scenario.name }));
      const trace = new Trace(loadRun(run));
      const expected = scenario.traceRules!.map((r) => (typeof r === 'function' ? r(trace).rule : r.name));
      const { out } = capture((io) => runCheckCommand(run, undefined, io));
      expect(out[0]).toBe(`raftkv check ${run}`);
      expect(out[1]).toBe(`with the rules of scenario ${scenario.name}: ${expected.join(', ')}`);
    }
    rmSync(path.join(run, 'meta.json'));
  });

  it('a missing directory: "no run directory", exit 2', () => {
    const missing = path.join(root, 'nothing-here');
    const r = capture((io) => runCheckCommand(missing, undefined, io));
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toBe(`raftkv check: no run directory ${missing}`);
  });

  it("a file inside a run directory: the run is checked, saying so; a file elsewhere: a clear error", () => {
    const file = path.join(run, 'trace.jsonl');
    const r = capture((io) => runCheckCommand(file, undefined, io));
    expect(r.err).toEqual([]);
    expect(r.out[0]).toBe(`raftkv check ${run}`);
    expect(r.out[1]).toBe(`${file} is a file: checking its run directory ${run}`);
    const stray = path.join(root, 'placeholder');
    const s = capture((io) => runCheckCommand(stray, undefined, io));
    expect(s.code).toBe(2);
    expect(s.err.join('\n')).toMatch(/is a file, not a run directory/);
  });

  it('--help prints its own help, exit 0', () => {
    const r = capture((io) => checkMain(['--help'], io));
    expect(r.code).toBe(0);
    expect(r.out.join('\n')).toBe(CHECK_HELP);
    expect(CHECK_HELP).toMatch(/^usage: raftkv check <runDir>/);
  });
});

describe('raftkv check --help through the CLI', () => {
  it('prints the check help, not the global one', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const root = path.resolve(import.meta.dirname, '../..');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/raftkv.ts', 'check', '--help'], { cwd: root });
    expect(stdout.trim()).toBe(CHECK_HELP);
  }, 60_000);
});
