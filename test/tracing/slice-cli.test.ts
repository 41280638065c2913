import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { traceMain } from '../../src/cli/trace-command.ts';
import { traceText } from '../../src/tui/cluster-text.ts';
import { checkShiVizLog } from '../../tracing/check/shiviz-rules.ts';
import { RunWriter } from '../../tracing/run-writer.ts';
import { killCliChildren, runRaftkv } from '../integration/helpers.ts';
import { randomExecution } from './slice-execution.ts';

/**
 * `raftkv trace slice` as a user meets it: the summary line, the notes, and a clear
 * error (with the exit code) for each kind of bad input. The run directory is written by
 * the tracing server's own RunWriter from an execution of real Tracers.
 */

let root = '';
let runDir = '';
let total = 0;

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-slice-cli-'));
  runDir = path.join(root, 'run');
  const writer = new RunWriter(runDir);
  const { records } = randomExecution(42, 4, 200);
  for (const r of records) writer.add(r);
  writer.flush();
  total = records.length;
});

afterAll(() => {
  killCliChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function slice(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await traceMain(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

describe('raftkv trace slice', () => {
  it('writes <runDir>/slice.log by default and prints one summary line', async () => {
    const r = await slice('slice', runDir, '--hosts', 'h0,h2', '--tags', 'Send', '--tags', 'Recv');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const m = /^sliced (\d+) of (\d+) events \(hosts: h0, h2\) into (\S+) in \d+ ms\n$/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m![2])).toBe(total);
    expect(m![3]).toBe(path.join(runDir, 'slice.log'));
    const log = readFileSync(path.join(runDir, 'slice.log'), 'utf8');
    expect(checkShiVizLog(log)).toEqual([]);
    expect(log.match(/^(Send|Recv) /gm)?.length).toBe(Number(m![1]));
  });

  it('--max-events keeps the first N and says how many matched', async () => {
    const out = path.join(root, 'capped.log');
    const r = await slice('slice', runDir, '--max-events', '10', '-o', out);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`note: ${total} events matched; kept the first 10 in trace.jsonl order (--max-events 10)\n`);
    expect(r.out).toMatch(`sliced 10 of ${total} events`);
    expect(checkShiVizLog(readFileSync(out, 'utf8'))).toEqual([]);
  });

  it('skips a torn line (a run still being written) and says so', async () => {
    const torn = path.join(root, 'torn');
    mkdirSync(torn);
    const text = readFileSync(path.join(runDir, 'trace.jsonl'), 'utf8');
    writeFileSync(path.join(torn, 'trace.jsonl'), `${text}{"host":"h0","traceId":"","ta`);
    const r = await slice('slice', torn, '--hosts', 'h0');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(new RegExp(`^note: skipped 1 unreadable line\\(s\\) of trace.jsonl \\(line ${total + 1}: `));
    expect(checkShiVizLog(readFileSync(path.join(torn, 'slice.log'), 'utf8'))).toEqual([]);
  });

  it('refuses what it cannot slice, with the exit code and what the run does have', async () => {
    const cases: [string[], number, RegExp][] = [
      [['slice', path.join(root, 'nope')], 2, /no run directory .*nope/],
      [['slice', root], 2, /cannot read .*trace\.jsonl/],
      [['slice', runDir, '--hosts', 'h0,server9'], 2, /unknown host server9; hosts in this run: h0, h1, h2, h3$/m],
      [['slice', runDir, '--tags', 'PutStart'], 2, /unknown tag PutStart; tags in this run: Local, Recv, Send$/m],
      [['slice', runDir, '--trace-id', 'alice:1'], 2, /no event has trace id alice:1; trace ids are <clientId>:<opId>/],
      [['slice', runDir, '--from', 'h1:9999'], 2, /--from h1:9999: no such event/],
      [['slice', runDir, '--from', '100000'], 1, /no event matches range line 100000 \.\. end \(of \d+ events\)/],
      [['slice', runDir, '--from', 'h0:5', '--to', 'h0:2'], 1, /no event matches range h0:5 \.\. h0:2/],
      [['slice', runDir, '--trace-id', 'h0:x', '--hosts', 'h1'], 1, /no event matches trace id h0:x and host h1/],
      [['slice', runDir, '-o', path.join(runDir, 'shiviz.log')], 2, /would overwrite the run's own shiviz\.log/],
      [['slice', runDir, '-o', path.join(root, 'no-such-dir', 'x.log')], 2, /cannot write .*x\.log: no directory .*no-such-dir/],
      [['slice', runDir, '--max-events', '0'], 2, /--max-events must be a positive integer/],
      [['slice', runDir, '--from', 'yesterday'], 2, /--from takes a trace.jsonl line number .* or an event as host:counter/],
      [['slice', runDir, '--from', '20', '--to', '10'], 2, /--from 20 is after --to 10/],
      [['slice', runDir, '--hosts', 'h0,'], 2, /--hosts takes a comma-separated list without empty items/],
      [['slice', runDir, '--colour'], 2, /unknown option --colour \(/],
      [['slice'], 2, /expected a run directory/],
      [['cut', runDir], 2, /unknown subcommand "cut"/],
    ];
    for (const [args, code, message] of cases) {
      const r = await slice(...args);
      expect({ args, code: r.code, out: r.out }).toEqual({ args, code, out: '' });
      expect(r.err, args.join(' ')).toMatch(message);
    }
    // An error writes nothing: no output file, no temp file left behind.
    const dir = path.join(root, 'out');
    mkdirSync(dir);
    expect((await slice('slice', runDir, '--hosts', 'nobody', '-o', path.join(dir, 'x.log'))).code).toBe(2);
    expect(existsSync(path.join(dir, 'x.log')) || existsSync(path.join(dir, 'x.log.tmp'))).toBe(false);
  });

  it('the terminal UI\'s trace command says how to slice the run it traces to', () => {
    const text = traceText({ dir: runDir, addr: '127.0.0.1:1', clientId: 'tui' });
    expect(text).toContain(`npx raftkv trace slice ${runDir} --trace-id tui:1`);
  });

  it('runs as `raftkv trace slice` from the command line', async () => {
    const out = path.join(root, 'cli.log');
    const ok = await runRaftkv(['trace', 'slice', runDir, '--hosts', 'h3', '-o', out], { timeoutMs: 60_000 });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^sliced \\d+ of ${total} events \\(hosts: h3\\) into ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(checkShiVizLog(readFileSync(out, 'utf8'))).toEqual([]);
    const bad = await runRaftkv(['trace', 'slice', runDir, '--tags', 'Nope'], { timeoutMs: 60_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown tag Nope; tags in this run: Local, Recv, Send/);
  });
});
