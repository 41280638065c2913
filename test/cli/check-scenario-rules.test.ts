import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckCommand } from '../../src/cli/check-command.ts';
import { produceGoodRun, type GoodRun } from '../check/good-run.ts';

let root: string;
let good: GoodRun;
beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-checkscen-'));
  good = await produceGoodRun(path.join(root, 'run'));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs `raftkv check` on the good run with meta.json naming `scenario`; returns exit code and output. */
function checkAs(scenario: string | undefined): { code: number; out: string } {
  const metaFile = path.join(good.dir, 'meta.json');
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(metaFile, JSON.stringify({ ...meta, scenario }));
  let out = '';
  const code = runCheckCommand(good.dir, undefined, { out: (t) => (out += `${t}\n`), err: (t) => (out += `${t}\n`) });
  return { code, out };
}

describe('raftkv check grades a scenario run with its own rules too', () => {
  it('a run whose meta.json names a scenario gets that scenario\'s rules, and their verdict', () => {
    // The good run passes every general rule...
    expect(checkAs(undefined).code).toBe(0);
    // ...but not scenario 6's: its client0 never failed over (there is no client0 at all).
    const as6 = checkAs('06-mid-request-failure');
    expect(as6.out).toContain('with the rules of scenario 06-mid-request-failure: client-failed-over');
    expect(as6.out).toMatch(/client-failed-over/);
    expect(as6.code).toBe(1);
    // An unknown scenario name adds nothing.
    expect(checkAs('99-nothing').code).toBe(0);
  });
});
