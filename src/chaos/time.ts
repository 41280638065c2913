/**
 * Now, in ms, on the clock history.json uses (kvslib: the machine's monotonic clock,
 * process.hrtime, shared by every process on it), so fault times and operation times can
 * be subtracted.
 */
export function wallNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
