import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/**
 * One client of a system under test. Each method resolves once the operation is done
 * (for writes: durably committed by a majority) and rejects when the client gave up.
 */
export interface Target {
  put(key: string, value: string): Promise<void>;
  get(key: string): Promise<void>;
  close(): Promise<void>;
}

export type OpKind = 'put' | 'get';

/** Wall-clock milliseconds, monotonic, sub-millisecond resolution. */
export function now(): number {
  return performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A log-bucketed latency histogram (bounded memory, ~1% relative error like HdrHistogram
 * at 2 significant digits); min, max and mean are exact.
 */
class Histogram {
  private static readonly MIN = 0.001; // ms (1 µs)
  private static readonly GROWTH = 1.01;
  private static readonly BUCKETS = Math.ceil(Math.log(1e9) / Math.log(Histogram.GROWTH)); // up to ~1000 s
  private readonly counts = new Uint32Array(Histogram.BUCKETS + 1);
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(ms: number): void {
    const v = Math.max(ms, Histogram.MIN);
    const i = Math.min(Histogram.BUCKETS, Math.floor(Math.log(v / Histogram.MIN) / Math.log(Histogram.GROWTH)));
    this.counts[i]++;
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  /** The value at quantile q (0..1): the midpoint of its bucket, clamped to [min, max]. */
  percentile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const lo = Histogram.MIN * Histogram.GROWTH ** i;
        return Math.min(this.max, Math.max(this.min, lo * Math.sqrt(Histogram.GROWTH)));
      }
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }
}

interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

function summarize(h: Histogram): LatencySummary {
  return { p50: h.percentile(0.5), p90: h.percentile(0.9), p99: h.percentile(0.99), max: h.count ? h.max : NaN, mean: h.mean };
}

/** A small seeded PRNG (mulberry32), so each worker's key sequence is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function keyName(i: number): string {
  return `key${String(i).padStart(5, '0')}`;
}

/** A printable value of exactly `bytes` ASCII bytes. */
export function makeValue(bytes: number): string {
  return randomBytes(bytes).toString('base64url').slice(0, bytes).padEnd(bytes, 'x');
}

interface LoadOptions {
  op: OpKind;
  /** One target per client; worker w uses targets[w % targets.length]. */
  targets: Target[];
  concurrency: number;
  keys: number;
  valueBytes: number;
  warmupMs: number;
  durationMs: number;
  /** Hard cap on operations started (a bound on the loop besides time). */
  maxOps?: number;
  seed?: number;
  /** Called when the measured window opens and when it closes (e.g. to sample CPU). */
  onWindow?: (edge: 'open' | 'close') => void;
}

interface LoadResult {
  /** Operations that completed inside the measured window. */
  ops: number;
  errors: number;
  firstError?: string;
  windowMs: number;
  opsPerSec: number;
  latency: LatencySummary;
}

/**
 * Closed-loop load: `concurrency` workers, each issuing its next operation as soon as the
 * previous one returns. After `warmupMs`, completions are counted and their latencies
 * recorded for `durationMs`; the workers then stop issuing and the in-flight operations
 * are awaited (each is bounded by its client's operation timeout).
 */
export async function runClosedLoop(o: LoadOptions): Promise<LoadResult> {
  const hist = new Histogram();
  const start = now();
  const measureFrom = start + o.warmupMs;
  const measureTo = measureFrom + o.durationMs;
  const maxOps = o.maxOps ?? 50_000_000;
  let started = 0;
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  // Window edges for onWindow; 'close' also fires at the end if its timer had not yet.
  let closed = false;
  const close = () => {
    if (!closed) o.onWindow?.('close');
    closed = true;
  };
  const edges = [setTimeout(() => o.onWindow?.('open'), o.warmupMs), setTimeout(close, o.warmupMs + o.durationMs)];
  const worker = async (w: number): Promise<void> => {
    const target = o.targets[w % o.targets.length];
    const random = rng((o.seed ?? 1) * 7919 + w);
    const value = makeValue(o.valueBytes);
    while (started < maxOps) {
      const t0 = now();
      if (t0 >= measureTo) return;
      started++;
      const key = keyName(Math.floor(random() * o.keys));
      try {
        if (o.op === 'put') await target.put(key, value);
        else await target.get(key);
      } catch (err) {
        const t1 = now();
        if (t1 >= measureFrom && t1 <= measureTo) {
          errors++;
          firstError ??= (err as Error).message;
        }
        if (t1 - t0 < 5) await sleep(10); // never spin on a fast-failing target
        continue;
      }
      const t1 = now();
      if (t1 >= measureFrom && t1 <= measureTo) {
        ops++;
        hist.record(t1 - t0);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  } finally {
    edges.forEach(clearTimeout);
    close();
  }
  const windowMs = Math.min(o.durationMs, Math.max(1, now() - measureFrom));
  return { ops, errors, firstError, windowMs, opsPerSec: (ops * 1000) / windowMs, latency: summarize(hist) };
}

/** Writes every key once (so reads find 64-byte values), with `concurrency` workers. */
export async function preload(targets: Target[], keys: number, valueBytes: number, concurrency: number, timeLimitMs: number): Promise<{ written: number; ms: number; errors: number }> {
  const t0 = now();
  let next = 0;
  let written = 0;
  let errors = 0;
  const worker = async (w: number): Promise<void> => {
    const target = targets[w % targets.length];
    const value = makeValue(valueBytes);
    while (next < keys && now() - t0 < timeLimitMs) {
      const k = next++;
      try {
        await target.put(keyName(k), value);
        written++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys) }, (_, w) => worker(w)));
  return { written, ms: now() - t0, errors };
}
