import { it } from 'vitest';

/**
 * Seeds for simulated runs. RAFT_SEED=n replays one seed; RAFT_SEED_OFFSET shifts the
 * whole set to explore new schedules. A failure names its seed so it can be replayed.
 */
export function seeds(base: number, count: number): number[] {
  const only = process.env.RAFT_SEED;
  if (only !== undefined) return [Number(only)];
  const offset = Number(process.env.RAFT_SEED_OFFSET ?? 0);
  return Array.from({ length: count }, (_, i) => base + offset + i);
}

/** Runs `body`, prefixing any failure (sync or async) with the seed and how to replay it. */
export function withSeed<T>(seed: number, body: (seed: number) => T): T {
  const label = (err: unknown): Error => {
    const e = err instanceof Error ? err : new Error(String(err));
    e.message = `[seed ${seed}; replay with RAFT_SEED=${seed}] ${e.message}`;
    console.error(e.message);
    return e;
  };
  let out: T;
  try {
    out = body(seed);
  } catch (err) {
    throw label(err);
  }
  if (out instanceof Promise) {
    return out.catch((err: unknown) => {
      throw label(err);
    }) as T;
  }
  return out;
}

/**
 * One vitest case per seed of `seeds(base, count)`, named "<name> [seed n]", each failure
 * labelled with RAFT_SEED=n: the loop that simulated tests used to repeat by hand.
 */
export function itSeeded(name: string, base: number, count: number, body: (seed: number) => unknown, timeout?: number): void {
  it.each(seeds(base, count))(`${name} [seed %i]`, (seed) => withSeed(seed, body) as void | Promise<void>, timeout);
}
