/**
 * What the store reports as it works. Durability is a question of order (the append's
 * write, then its fsync, then the caller hears back), so tests observe the order here.
 */
export type StorageEvent =
  | { type: 'repair'; file: string; line: number; bytes: number }
  | { type: 'append'; file: string; lines: number }
  | { type: 'fsync'; file: string }
  | { type: 'compact'; file: string }
  | { type: 'resolve'; saves: number };

export type StorageEventListener = (event: StorageEvent) => void;
