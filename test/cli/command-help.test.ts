import { afterEach, describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../src/chaos/schedule.ts';
import { COMMANDS, USAGE, commandUsage } from '../../src/cli/usage.ts';
import { killCliChildren, runRaftkv, type CliResult } from '../integration/helpers.ts';

/**
 * `raftkv <command> --help` (and -h) prints that command's own usage and exits 0, for
 * every command the usage text lists, run as a user runs it (real processes): it used
 * to print the whole usage text for all but check, report, trace and chaos.
 */

afterEach(() => {
  killCliChildren();
});

/** Runs every command line, two at a time (each is a Node process loading tsx). */
async function runAll(lines: string[][]): Promise<CliResult[]> {
  const results: CliResult[] = new Array(lines.length);
  let next = 0;
  const worker = async () => {
    while (next < lines.length) {
      const i = next++;
      results[i] = await runRaftkv(lines[i], { timeoutMs: 60_000 });
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

/** The commands whose synopsis starts a line of `text` ("raftkv cluster up ...", "usage: raftkv check ..."). */
function synopses(text: string): string[] {
  return [...text.matchAll(/^(?:usage: |\s*)raftkv ([a-z][\w-]*)(?: ([a-z][\w-]*))?/gm)].map((m) => (m[2] && COMMANDS.includes(`${m[1]} ${m[2]}`) ? `${m[1]} ${m[2]}` : m[1]));
}

const GLOBAL_HEADER = USAGE.split('\n')[0];
const GROUPS = [...new Set(COMMANDS.filter((c) => c.includes(' ')).map((c) => c.split(' ')[0]))];

describe('raftkv <command> --help', () => {
  it('prints each command its own usage, not the whole text, and exits 0 (--help, -h)', async () => {
    expect(COMMANDS.length).toBeGreaterThan(20);
    // -h for the commands that parse their own options (chaos, check, report, trace), a
    // group and a client command; each command parsed by raftkv.ts takes it as --help.
    const short = ['chaos', 'check', 'report', 'trace', 'trace slice', 'cluster', 'member add', 'put'];
    const cases = [...[...COMMANDS, ...GROUPS].map((command) => ({ command, flag: '--help' })), ...short.map((command) => ({ command, flag: '-h' }))];
    const results = await runAll(cases.map(({ command, flag }) => [...command.split(' '), flag]));
    for (const [i, { command, flag }] of cases.entries()) {
      const r = results[i];
      const what = `raftkv ${command} ${flag}:\n${r.stdout}${r.stderr}`;
      expect(r.code, what).toBe(0);
      expect(r.stderr, what).toBe('');
      expect(r.stdout, what).not.toContain(GLOBAL_HEADER);
      // It names this command (or, for a group, each of its commands) and no other.
      const named = synopses(r.stdout);
      const own = command.includes(' ') || !GROUPS.includes(command) ? [command] : COMMANDS.filter((c) => c.startsWith(`${command} `));
      expect(named.length, what).toBeGreaterThan(0);
      expect(new Set(named), what).toEqual(new Set(own));
      // All but check, report and trace (their own, longer help) print their lines of the usage text.
      if (!['check', 'report', 'trace slice', 'trace'].includes(command)) expect(r.stdout, what).toContain(`${commandUsage(command.split(' '))}\n`);
    }
  }, 300_000);

  it('the chaos usage names every fault kind', () => {
    expect(commandUsage(['chaos'])).toContain(`--faults ${FAULT_KINDS.join(',')}]`);
  });

  it('"raftkv help <command>" is "raftkv <command> --help"; an unknown command is a usage error', async () => {
    const [help, flag, unknown, put, unknownSub] = await runAll([['help', 'cluster', 'up'], ['cluster', 'up', '--help'], ['frobnicate', '--help'], ['put', 'k', 'v', '--help'], ['cluster', 'foo', '--help']]);
    // A group's word that is none of its commands is unknown too (it printed the group's usage, exit 0).
    expect(unknownSub.code).toBe(2);
    expect(unknownSub.stderr).toContain('unknown command "cluster foo"');
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(flag.stdout);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect(unknown.stdout).toBe('');
    // --help wins over the operation: nothing is sent.
    expect(put.code).toBe(0);
    expect(put.stdout).toContain(`${commandUsage(['put'])}\n`);
  }, 120_000);
});
