/**
 * What a raftkv exit code means (usage.ts and the README list them). `raftkv check` has
 * its own: 0 every rule passed, 1 a rule failed, 2 the trace cannot be read.
 */
export const EXIT = {
  OK: 0,
  /** Refused (invalid input) or ran and failed (incr on text): nothing was applied. */
  FAILED: 1,
  /** Bad arguments or config: nothing was attempted. */
  USAGE: 2,
  /** A write with no final answer: it may or may not take effect; `raftkv retry` finishes it. */
  UNKNOWN: 3,
  /** No server answered, or no majority: nothing was applied. */
  UNAVAILABLE: 4,
} as const;
