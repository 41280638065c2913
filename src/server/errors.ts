/** This server cannot order the operation: it is not (or no longer) the leader. */
export class NotLeaderError extends Error {
  constructor(
    readonly leaderId: string | null,
    message = `not the leader${leaderId ? ` (leader: ${leaderId})` : ' and no leader is known'}`,
  ) {
    super(message);
    this.name = 'NotLeaderError';
  }
}

/** A proposal the cluster could never replicate: its entry is bigger than one message may carry. */
export class EntryTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `the command is ${bytes.toLocaleString('en-US')} bytes once encoded for the log; the limit is ${limit.toLocaleString('en-US')} bytes ` +
        `(one entry must fit one ${(limit / 1024 / 1024).toFixed(0)} MiB Raft message); nothing was proposed`,
    );
    this.name = 'EntryTooLargeError';
  }
}

/**
 * A membership change or leadership transfer the leader did not start (Raft §6, thesis
 * §3.10), with the Admin API's code: NOT_LEADER (ask `leaderId`), BUSY (another change
 * or a transfer is under way: retry shortly), INVALID (the change does not apply).
 */
export class ConfChangeRefusedError extends Error {
  constructor(
    readonly code: 'NOT_LEADER' | 'BUSY' | 'INVALID',
    message: string,
    readonly leaderId: string | null,
  ) {
    super(message);
    this.name = 'ConfChangeRefusedError';
  }
}
