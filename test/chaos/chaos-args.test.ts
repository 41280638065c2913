import { describe, expect, it } from 'vitest';
import { parseChaosArgs, parseDuration } from '../../src/cli/chaos-command.ts';
import { FAULT_KINDS } from '../../src/chaos/schedule.ts';
import { runRaftkv } from '../integration/helpers.ts';

describe('raftkv chaos arguments', () => {
  it('has the documented defaults and takes every option', () => {
    const d = parseChaosArgs(['--seed', '5']);
    expect(d).toMatchObject({ servers: 5, durationMs: 30_000, seed: 5, kinds: [...FAULT_KINDS], clients: 6, keys: 5, trace: false, net: 'links' });
    expect(d.outDir).toMatch(/traces\/chaos\/.*-seed5$/);
    const all = parseChaosArgs(['--servers', '3', '--duration', '2m', '--seed', '1', '--faults', 'kill,disk', '--clients', '2', '--keys', '9', '--trace', '--net', 'namespaces', '--out', 'x']);
    expect(all).toEqual({ servers: 3, durationMs: 120_000, seed: 1, kinds: ['kill', 'disk'], clients: 2, keys: 9, trace: true, net: 'namespaces', outDir: 'x' });
  });

  it('reads durations in ms, s and m', () => {
    expect(parseDuration('5000ms')).toBe(5000);
    expect(parseDuration('15s')).toBe(15_000);
    expect(parseDuration('20')).toBe(20_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(() => parseDuration('1500ms')).toThrow(/from 5s to 60m/);
    expect(() => parseDuration('soon')).toThrow(/like 30s, 2m or 1500ms \(got "soon"\)/);
  });

  it('takes numbers in plain decimal digits only, each option once, and a non-empty --out', () => {
    for (const [args, reason] of [
      [['--seed', '0x10'], /--seed must be an integer from 0 to 4294967295 in plain decimal digits \(got "0x10"\)/],
      [['--seed', ' 5'], /got " 5"/],
      [['--servers', '0x5'], /--servers must be an integer from 3 to 9/],
      [['--servers', '3.0'], /got "3.0"/],
      [['--seed', '-1'], /--seed takes a non-negative integer in plain decimal digits \(got "-1"\)/],
      [['--seed', '1', '--seed', '2'], /--seed is given twice/],
      [['--out', ''], /--out needs a directory/],
      [['--duration', ' 15s'], /--duration takes a time like/],
    ] as const) {
      expect(() => parseChaosArgs([...args]), args.join(' ')).toThrow(reason);
    }
    expect(parseChaosArgs(['--seed', '0']).seed).toBe(0);
  });

  it('refuses bad input with exit 2 and a reason, starting nothing', async () => {
    for (const [args, reason] of [
      [['--faults', 'kill,meteor'], /--faults takes a comma-separated list/],
      [['--servers', '2'], /--servers must be an integer from 3 to 9 in plain decimal digits \(got "2"\)/],
      [['--net', 'wifi'], /--net takes "links" or "namespaces"/],
      [['--bogus'], /unknown option --bogus \(an argument that starts with "-" goes after a "--": \.\.\. -- --bogus\)/],
      [['--seed', '-1'], /--seed takes a non-negative integer/],
    ] as const) {
      const r = await runRaftkv(['chaos', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(reason);
      // chaos's own usage, not the whole of raftkv's.
      expect(r.stderr).toContain('raftkv chaos [--servers 5]');
      expect(r.stderr).not.toContain('raftkv node --id');
    }
  });
});
