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

export function withSeed<T>(seed: number, body: (seed: number) => T): T {
  try {
    return body(seed);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    e.message = `[seed ${seed}; replay with RAFT_SEED=${seed}] ${e.message}`;
    console.error(e.message);
    throw e;
  }
}
