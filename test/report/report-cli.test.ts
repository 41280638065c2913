import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPORT_USAGE, reportMain } from '../../src/cli/report-command.ts';
import { traceMain } from '../../src/cli/trace-command.ts';
import { USAGE } from '../../src/cli/usage.ts';
import { RunWriter } from '../../tracing/run-writer.ts';
import { killCliChildren, runRaftkv } from '../integration/helpers.ts';
import { randomExecution } from '../tracing/slice-execution.ts';

/**
 * `raftkv report` and `raftkv trace slice` as a user meets them with a bad `-o` or bad
 * arguments: neither may overwrite the run's own files (one guard, tracing/run-files.ts),
 * a directory or a missing folder as output is a clear error with exit 2 and leaves
 * nothing behind, and a usage error prints the command's own short usage. The run is
 * written by the tracing server's RunWriter from an execution of real Tracers, with the
 * files a scenario adds (meta.json, logs/, report.html, slice.log).
 */

let root = '';
let runDir = '';
/** Every file of the run, relative, with its content before the commands ran. */
const before = new Map<string, string>();

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-report-cli-'));
  runDir = path.join(root, 'run');
  const writer = new RunWriter(runDir);
  for (const r of randomExecution(7, 3, 120).records) writer.add(r);
  writer.flush();
  writeFileSync(path.join(runDir, 'meta.json'), JSON.stringify({ servers: ['h0', 'h1', 'h2'] }));
  mkdirSync(path.join(runDir, 'logs'));
  writeFileSync(path.join(runDir, 'logs', 'server0.log'), 'server0 output\n');
  writeFileSync(path.join(runDir, 'report.html'), '<p>an earlier report</p>');
  writeFileSync(path.join(runDir, 'slice.log'), 'an earlier slice\n');
  for (const f of files(runDir)) before.set(f, readFileSync(path.join(runDir, f), 'utf8'));
});

afterAll(() => {
  killCliChildren();
  if (root) rmSync(root, { recursive: true, force: true });
});

function files(dir: string, under = ''): string[] {
  return readdirSync(path.join(dir, under), { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(dir, path.join(under, d.name)) : [path.join(under, d.name)]));
}

function report(...args: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = reportMain(args, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

async function slice(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await traceMain(['slice', ...args], { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) });
  return { code, out, err };
}

/** The run's files are as they were, and nothing was added to it. */
function expectRunUntouched(what: string): void {
  expect(files(runDir).sort(), what).toEqual([...before.keys()].sort());
  for (const [f, text] of before) expect(readFileSync(path.join(runDir, f), 'utf8'), `${what}: ${f}`).toBe(text);
}

describe('the output guard of report and trace slice', () => {
  it('neither overwrites the run\'s input files, its logs/ or the other tool\'s output (exit 2)', async () => {
    const inputs = ['trace.jsonl', 'shiviz.log', 'history.json', 'meta.json', path.join('logs', 'server0.log'), path.join('logs', 'new.log')];
    for (const f of [...inputs, 'slice.log']) {
      // Also spelled through `..`, as a user might.
      for (const out of [path.join(runDir, f), path.join(runDir, '..', 'run', f)]) {
        const r = report(runDir, '-o', out);
        expect({ f, code: r.code, out: r.out }).toEqual({ f, code: 2, out: '' });
        expect(r.err, f).toMatch(f.startsWith('logs') ? /inside the run's logs\/ folder/ : new RegExp(`would overwrite the run's (own )?${f.replace('.', '\\.')}`));
        expectRunUntouched(`report -o ${out}`);
      }
    }
    for (const f of [...inputs, 'report.html']) {
      const r = await slice(runDir, '-o', path.join(runDir, f));
      expect({ f, code: r.code, out: r.out }).toEqual({ f, code: 2, out: '' });
      expect(r.err, f).toMatch(f.startsWith('logs') ? /inside the run's logs\/ folder/ : new RegExp(`would overwrite the run's (own )?${f.replace('.', '\\.')}`));
      expectRunUntouched(`slice -o ${f}`);
    }
  });

  it('each tool rewrites its own default output', async () => {
    const r = report(runDir);
    expect(r.code, r.err).toBeLessThan(2);
    expect(readFileSync(path.join(runDir, 'report.html'), 'utf8')).toMatch(/^<!doctype html>/);
    const s = await slice(runDir, '--hosts', 'h1');
    expect(s.code, s.err).toBe(0);
    expect(readFileSync(path.join(runDir, 'slice.log'), 'utf8')).not.toBe(before.get('slice.log'));
    for (const f of ['report.html', 'slice.log']) before.set(f, readFileSync(path.join(runDir, f), 'utf8'));
    expectRunUntouched('after the defaults');
  });

  it('an existing directory or a missing folder as -o: a clear message, exit 2, nothing left behind', async () => {
    const outDir = path.join(root, 'out-dir');
    mkdirSync(outDir);
    const missing = path.join(root, 'no-such-dir', 'r.html');
    for (const out of [outDir, missing]) {
      const r = report(runDir, '-o', out);
      expect({ code: r.code, out: r.out }).toEqual({ code: 2, out: '' });
      expect(r.err).toMatch(out === outDir ? /^raftkv report: -o .*out-dir is a directory; give a file name/ : /^raftkv report: cannot write .*r\.html: no directory .*no-such-dir/);
      expect(r.err).not.toMatch(/EISDIR|ENOENT/);
      const s = await slice(runDir, '-o', out);
      expect({ code: s.code, out: s.out }).toEqual({ code: 2, out: '' });
      expect(s.err).toMatch(out === outDir ? /^raftkv trace slice: -o .*out-dir is a directory/ : /^raftkv trace slice: cannot write .*r\.html: no directory/);
    }
    expect(readdirSync(outDir)).toEqual([]);
    expect(readdirSync(root).sort()).toEqual(['out-dir', 'run']);
    expectRunUntouched('-o a directory');
  });
});

describe('raftkv report arguments', () => {
  it('a bad argument prints the error and the report\'s own usage, exit 2', () => {
    const cases: [string[], RegExp][] = [
      [[runDir, '--max-events', '0'], /--max-events must be a positive integer \(got "0"\)/],
      [[runDir, '--max-events', '1e3'], /--max-events must be a positive integer/],
      [[runDir, '--bogus'], /unknown option --bogus \(/],
      [[], /expected a run directory/],
      [[runDir, runDir], /expected one run directory/],
    ];
    for (const [args, message] of cases) {
      const r = report(...args);
      expect({ args, code: r.code, out: r.out }).toEqual({ args, code: 2, out: '' });
      expect(r.err).toMatch(new RegExp(`^raftkv report: ${message.source}`));
      expect(r.err.endsWith(`${REPORT_USAGE}\n`), r.err).toBe(true);
      expect(r.err).not.toContain(USAGE);
    }
    expect(REPORT_USAGE.split('\n').length).toBeLessThan(20);
  });

  it('--help prints the report\'s own help; a missing run directory is "no run directory", exit 2', () => {
    const help = report('--help');
    expect(help).toEqual({ code: 0, out: `${REPORT_USAGE}\n`, err: '' });
    const missing = report(path.join(root, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.err).toBe(`raftkv report: no run directory ${path.join(root, 'nope')}\n`);
  });

  it('runs as `raftkv report` from the command line', async () => {
    const bad = await runRaftkv(['report', runDir, '--max-events', '0'], { timeoutMs: 60_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(REPORT_USAGE);
    expect(bad.stderr).not.toContain(USAGE);
    const help = await runRaftkv(['report', '--help'], { timeoutMs: 60_000 });
    expect(help.code).toBe(0);
    expect(help.stdout.trim()).toBe(REPORT_USAGE);
    const out = path.join(root, 'cli.html');
    const ok = await runRaftkv(['report', runDir, '-o', out], { timeoutMs: 60_000 });
    expect(ok.code, ok.stderr).toBeLessThan(2);
    expect(ok.stdout).toMatch(/^wrote .*cli\.html/);
    rmSync(out);
  });
});
