import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * src/cli/interrupt.ts in a real process: the first Ctrl-C is the command's to handle
 * (client-command.ts reports what became of the operation); a second one exits at once.
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** A process that watches for signals and otherwise runs until killed; prints "first SIGINT" when it sees one. */
const SCRIPT = `
import { watchInterrupt } from './src/cli/interrupt.ts';
const i = watchInterrupt();
i.signal.then((s) => console.log('first ' + s));
setInterval(() => {}, 1000);
console.log('ready');
`;

describe('watchInterrupt', () => {
  it('the first SIGINT is noted and handled; a second exits at once with 130', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const sendWhen = (text: string, then: () => void) => {
      const check = () => {
        if (stdout.includes(text)) {
          child.stdout!.off('data', check);
          then();
        }
      };
      child.stdout!.on('data', check);
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // The second signal only once the first was handled (and the process lives on).
    sendWhen('ready', () => child.kill('SIGINT'));
    sendWhen('first SIGINT', () => child.kill('SIGINT'));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    expect(signal, stderr).toBeNull();
    expect(code, stderr).toBe(130);
    expect(stdout).toContain('first SIGINT');
    expect(stderr).toContain('raftkv: SIGINT again: exiting at once');
  }, 30_000);
});
