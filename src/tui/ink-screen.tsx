import { render } from 'ink';
import { App } from './app.tsx';
import type { Controller } from './controller.ts';

const ALT_SCREEN_ON = '\u001B[?1049h\u001B[H';
const ALT_SCREEN_OFF = '\u001B[?1049l';

/**
 * The full-screen UI on the terminal's alternate screen (the shell's screen comes back on
 * exit). Quit, Ctrl-C, a signal or an error: the processes are stopped, then it resolves.
 */
export async function runInk(session: { controller: Controller; subtitle: string; cleanup(): Promise<string[]> }): Promise<number> {
  const { controller, subtitle, cleanup } = session;
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.stdout.write(ALT_SCREEN_OFF);
  };
  process.on('exit', restore);
  process.stdout.write(ALT_SCREEN_ON);
  let code = 0;
  try {
    const app = render(<App controller={controller} subtitle={subtitle} />, { exitOnCtrlC: false, patchConsole: true });
    controller.startPolling(300);
    controller.onQuit(() => app.unmount());
    await app.waitUntilExit().catch((err: unknown) => {
      code = 1;
      process.stderr.write(`raftkv: the screen failed: ${(err as Error).message}\n`);
    });
  } finally {
    restore();
    process.off('exit', restore);
  }
  process.stderr.write('raftkv: quitting...\n');
  for (const note of await cleanup()) process.stderr.write(`raftkv: ${note}\n`);
  return code;
}
