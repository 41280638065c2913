import { EXIT } from './exit-codes.ts';

/**
 * Ctrl-C (SIGINT) and SIGTERM while a client command runs. The first signal is noted
 * (`received`, set synchronously in the handler, so a check just before sending is exact)
 * and settles `signal`, so the command can say what became of its operation before it
 * exits (exit 130); a second signal exits at once, as a user pressing Ctrl-C twice means.
 */
export interface Interrupt {
  /** The first signal received, or null. */
  readonly received: NodeJS.Signals | null;
  /** Settles with the first signal; never rejects. */
  readonly signal: Promise<NodeJS.Signals>;
  /** Removes the handlers: a later signal has its default effect again. */
  dispose(): void;
}

/** Installs the SIGINT and SIGTERM handlers described on Interrupt. */
export function watchInterrupt(): Interrupt {
  let received: NodeJS.Signals | null = null;
  let settle!: (s: NodeJS.Signals) => void;
  const signal = new Promise<NodeJS.Signals>((resolve) => (settle = resolve));
  const on = (sig: NodeJS.Signals) => {
    if (received !== null) {
      process.stderr.write(`raftkv: ${sig} again: exiting at once\n`);
      process.exit(EXIT.INTERRUPTED);
    }
    received = sig;
    settle(sig);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    get received() {
      return received;
    },
    signal,
    dispose() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}
