import type { ClientOp } from '../src/kv/command.ts';

/**
 * One finished client operation, as history.json holds it: what was asked, when it was
 * called and when it returned, and what came back. Clients write it (through the tracing
 * server); the checkers read it. It lives here, not in the client library, so that the
 * checkers judge the file without importing the code they judge.
 */
export interface HistoryEntry {
  clientId: string;
  opId: number;
  op: ClientOp;
  /** The machine's monotonic clock (process.hrtime, CLOCK_MONOTONIC) in ms: comparable across the processes of one machine. */
  call: number;
  return: number;
  output?: { value: string; values?: string[] };
  /** An error: the operation may or may not have taken effect (unless `failed`). */
  error?: string;
  failed?: boolean;
}
