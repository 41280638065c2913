import { spreadOrder, type BenchSystem } from './system.ts';
import { keyName, makeValue, now, rng, sleep, type Target } from './workload.ts';

interface FailoverOptions {
  repeats: number;
  /** Closed-loop put workers, spread over one client per member. */
  concurrency: number;
  keys: number;
  valueBytes: number;
  /** The failover setting: 500 ms per attempt before trying another server. */
  attemptTimeoutMs: number;
  opTimeoutMs: number;
  /** Steady load before the kill. */
  beforeKillMs: number;
  /** Keep loading at least this long after the kill... */
  minAfterKillMs: number;
  /** ...and until every worker has finished a put started after the kill, up to this. */
  maxAfterKillMs: number;
  clientPrefix: string;
  log?: (line: string) => void;
}

interface FailoverTrial {
  killed: string;
  newLeader: string | null;
  /** Longest time between two successful puts (any client), around the kill. */
  gapMs: number;
  /** From the kill to the first put that succeeded after it. */
  firstOkAfterKillMs: number;
  /** The slowest single put of the trial (a client stuck on the dead leader shows here). */
  maxPutMs: number;
  puts: number;
  errors: number;
  firstError?: string;
  /** The killed member's restart and catch-up, before the next trial. */
  restartMs: number;
}

export interface FailoverResult {
  system: string;
  concurrency: number;
  attemptTimeoutMs: number;
  trials: FailoverTrial[];
  medianGapMs: number;
  medianFirstOkMs: number;
  medianMaxPutMs: number;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * kill -9 the leader under a steady put load, measure the longest stretch without a
 * successful put, restart the killed member, and repeat.
 */
export async function runFailover(sys: BenchSystem, o: FailoverOptions): Promise<FailoverResult> {
  const trials: FailoverTrial[] = [];
  for (let r = 0; r < o.repeats; r++) {
    trials.push(await trial(sys, o, r));
    const t = trials[trials.length - 1];
    o.log?.(`  failover ${sys.name} #${r + 1}: killed ${t.killed}, gap ${t.gapMs.toFixed(0)} ms, first ok after kill ${t.firstOkAfterKillMs.toFixed(0)} ms, slowest put ${t.maxPutMs.toFixed(0)} ms, errors ${t.errors}, new leader ${t.newLeader ?? '?'}, restart ${t.restartMs.toFixed(0)} ms`);
  }
  return {
    system: sys.name,
    concurrency: o.concurrency,
    attemptTimeoutMs: o.attemptTimeoutMs,
    trials,
    medianGapMs: median(trials.map((t) => t.gapMs)),
    medianFirstOkMs: median(trials.map((t) => t.firstOkAfterKillMs)),
    medianMaxPutMs: median(trials.map((t) => t.maxPutMs)),
  };
}

async function trial(sys: BenchSystem, o: FailoverOptions, r: number): Promise<FailoverTrial> {
  const leader = await sys.leader();
  const order = spreadOrder(sys.members, leader);
  const targets: Target[] = [];
  let stop = false;
  const oks: number[] = [];
  let maxPutMs = 0;
  let errors = 0;
  let firstError: string | undefined;
  let tKill = Infinity;
  const recovered = new Array<boolean>(o.concurrency).fill(false);
  const hardStop = now() + o.beforeKillMs + o.maxAfterKillMs + o.opTimeoutMs + 30_000;
  let killed = false;
  try {
    for (let i = 0; i < order.length; i++) {
      targets.push(await sys.connect({ clientId: `${o.clientPrefix}-r${r}-c${i}`, memberId: order[i], attemptTimeoutMs: o.attemptTimeoutMs, opTimeoutMs: o.opTimeoutMs }));
    }
    const worker = async (w: number) => {
      const target = targets[w % targets.length];
      const random = rng(1000 * r + w + 17);
      const value = makeValue(o.valueBytes);
      while (!stop && now() < hardStop) {
        const t0 = now();
        try {
          await target.put(keyName(Math.floor(random() * o.keys)), value);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
          if (now() - t0 < 5) await sleep(10);
          continue;
        }
        const t1 = now();
        oks.push(t1);
        if (t1 - t0 > maxPutMs) maxPutMs = t1 - t0;
        if (t0 > tKill) recovered[w] = true;
      }
    };
    const workers = Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
    await sleep(o.beforeKillMs);
    tKill = now();
    await sys.kill(leader);
    killed = true;
    while (now() - tKill < o.maxAfterKillMs && (now() - tKill < o.minAfterKillMs || !recovered.every(Boolean))) await sleep(50);
    stop = true;
    await workers;
  } finally {
    stop = true;
    await Promise.allSettled(targets.map((t) => t.close()));
  }
  const tEnd = now();
  const around = oks.filter((t) => t >= tKill - o.beforeKillMs / 2).sort((a, b) => a - b);
  let gapMs = 0;
  for (let i = 1; i < around.length; i++) gapMs = Math.max(gapMs, around[i] - around[i - 1]);
  const firstAfter = around.find((t) => t > tKill);
  const lastBefore = [...around].reverse().find((t) => t <= tKill);
  if (firstAfter === undefined) gapMs = Math.max(gapMs, tEnd - (lastBefore ?? tKill));
  else if (lastBefore !== undefined) gapMs = Math.max(gapMs, firstAfter - lastBefore);
  const newLeader = await sys.leader(15_000).catch(() => null);
  const t0 = now();
  if (killed) await sys.restart(leader);
  await sys.leader(15_000);
  await sleep(500); // let the restarted member catch up before the next trial
  return {
    killed: leader,
    newLeader,
    gapMs,
    firstOkAfterKillMs: firstAfter === undefined ? NaN : firstAfter - tKill,
    maxPutMs,
    puts: oks.length,
    errors,
    firstError,
    restartMs: now() - t0,
  };
}
