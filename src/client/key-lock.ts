/**
 * Orders operations per key: an operation starts once every earlier operation on any of
 * its keys has finished, while operations on other keys run in parallel.
 */
export class KeyLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Waits for the keys' earlier operations; returns the function that releases them. */
  async acquire(keys: string[]): Promise<() => void> {
    let release!: () => void;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const earlier = [...new Set(keys)].map((k) => {
      const prev = this.tails.get(k) ?? Promise.resolve();
      const tail = prev.then(() => done);
      this.tails.set(k, tail);
      // Forget the key once nothing is queued behind this operation.
      void tail.then(() => {
        if (this.tails.get(k) === tail) this.tails.delete(k);
      });
      return prev;
    });
    await Promise.all(earlier);
    return release;
  }
}
