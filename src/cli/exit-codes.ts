/**
 * What a raftkv exit code means (usage.ts and the README list them). `raftkv check` has
 * its own: 0 every rule passed, 1 a rule failed, 2 the trace cannot be read.
 */
export const EXIT = {
  OK: 0,
  /** Refused by the cluster (no space) or ran and failed (incr on text): nothing was applied. */
  FAILED: 1,
  /** Bad arguments or config, or input the servers would refuse (an empty key, a TTL over 10 years): nothing was sent. */
  USAGE: 2,
  /** A write with no final answer: it may or may not take effect; `raftkv retry` finishes it. */
  UNKNOWN: 3,
  /** No server answered, or no majority: nothing was applied. */
  UNAVAILABLE: 4,
  /**
   * Ctrl-C or SIGTERM (128 + SIGINT's 2, as a shell reports it): the message says what
   * became of the operation (nothing sent, or an outcome unknown with its retry).
   */
  INTERRUPTED: 130,
} as const;
