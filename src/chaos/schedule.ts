import { seededRng, type Rng } from '../raft/rng.ts';

/** The fault families `--faults` names (docs/CHAOS.md). */
export const FAULT_KINDS = ['kill', 'pause', 'partition', 'oneway', 'netsplit', 'clock', 'disk'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Which servers a fault hits, resolved when it is injected (the leader then is not known
 * now): `leader`, the `follower` with this index among the followers sorted by id (modulo
 * their number), or `any` server with this index among all (modulo).
 */
export type Target = { role: 'leader' } | { role: 'follower'; index: number } | { role: 'any'; index: number };

/**
 * One planned fault. `variant` is the shape within its kind:
 * - kill: leader | follower | two (the leader and a follower) | two-followers | majority; each killed server restarts at the end
 * - pause: leader | follower (SIGSTOP, SIGCONT at the end)
 * - partition: isolate-leader | isolate-follower (all links of one server cut)
 * - netsplit: majority-minority (the leader on a random side) | bridge (two halves joined by one server that hears both) | ring (each server hears only its two neighbours)
 * - oneway: leader-deaf (the leader hears no follower, they hear it) | leader-mute (no follower hears the leader, it hears them) | follower-deaf (one follower does not hear the leader)
 * - clock: skew (one server's wall clock off by `amount` ms)
 * - disk: slow-leader | slow-follower | slow-all (every fsync `amount` ms late)
 */
export interface PlannedFault {
  /** 1-based place in the schedule. */
  n: number;
  kind: FaultKind;
  variant: string;
  target: Target;
  /** ms after the clients started. */
  atMs: number;
  durationMs: number;
  /** clock: the skew, ms (negative: behind); disk: the fsync delay, ms. */
  amount?: number;
  /** A seed of its own for choices made at injection (sides of a split). */
  seed: number;
}

const VARIANTS: Record<FaultKind, string[]> = {
  kill: ['leader', 'follower', 'two', 'two-followers', 'majority'],
  pause: ['leader', 'follower'],
  partition: ['isolate-leader', 'isolate-follower'],
  netsplit: ['majority-minority', 'bridge', 'ring'],
  oneway: ['leader-deaf', 'leader-mute', 'follower-deaf'],
  clock: ['skew'],
  disk: ['slow-leader', 'slow-follower', 'slow-all'],
};

export interface ScheduleOptions {
  seed: number;
  /** Length of the faulty phase, ms: no fault starts later than durationMs - 1000 and each ends by durationMs. */
  durationMs: number;
  kinds: readonly FaultKind[];
}

/**
 * The fault schedule of a chaos run, a pure function of (seed, duration, kinds): the same
 * seed replays the same kinds, shapes, targets and times. Faults run one after another
 * (each 1-4 s, gaps of 0.5-2 s), as Jepsen's nemesis alternates start and stop, so each
 * fault's effect and the cluster's recovery from it can be told apart.
 */
export function planSchedule(opts: ScheduleOptions): PlannedFault[] {
  if (opts.kinds.length === 0) throw new Error('no fault kinds to schedule');
  const rng = seededRng(opts.seed);
  const faults: PlannedFault[] = [];
  let t = 1000 + rng.int(0, 1000);
  while (t + 1000 <= opts.durationMs) {
    const kind = opts.kinds[rng.int(0, opts.kinds.length)];
    const variant = pick(rng, VARIANTS[kind]);
    const durationMs = Math.min(rng.int(1000, 4001), opts.durationMs - t);
    const fault: PlannedFault = { n: faults.length + 1, kind, variant, target: targetOf(kind, variant, rng), atMs: t, durationMs, seed: rng.int(1, 2 ** 31) };
    if (kind === 'clock') fault.amount = (rng.next() < 0.5 ? -1 : 1) * rng.int(2_000, 60_001);
    if (kind === 'disk') fault.amount = rng.int(50, 401);
    faults.push(fault);
    t += durationMs + rng.int(500, 2001);
  }
  return faults;
}

function targetOf(kind: FaultKind, variant: string, rng: Rng): Target {
  const index = rng.int(0, 1000);
  if (variant.includes('leader') || variant === 'two' || variant === 'majority-minority') return { role: 'leader' };
  if (variant.includes('follower')) return { role: 'follower', index };
  if (kind === 'clock') return rng.next() < 0.5 ? { role: 'leader' } : { role: 'any', index };
  return { role: 'any', index };
}

function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[rng.int(0, list.length)];
}

/**
 * Whom a fault hits, in words, as planned: `leader`, `a follower`, `leader+follower`,
 * `any server`, ... (which follower or server is chosen at injection, from the fault's
 * own seed); '' when the shape says it all (netsplit, slow-all).
 */
export function targetText(f: PlannedFault): string {
  if (f.kind === 'kill') return { leader: 'leader', follower: 'a follower', two: 'leader+follower', 'two-followers': 'two followers', majority: 'leader+followers: a majority' }[f.variant] ?? f.variant;
  if (f.kind === 'netsplit' || f.variant === 'slow-all') return '';
  if (f.kind === 'oneway') return f.variant === 'follower-deaf' ? 'a follower' : 'leader';
  return f.target.role === 'leader' ? 'leader' : f.target.role === 'follower' ? 'a follower' : 'any server';
}

/**
 * One fault, for lines and tables: `kill(leader+follower)`, `netsplit(ring)`,
 * `clock(skew -12000 ms, any server)`; with the servers it hit once injected,
 * `kill(leader+follower -> s2,s4)`.
 */
export function describeFault(f: PlannedFault, servers: readonly string[] = []): string {
  const amount = f.amount === undefined ? '' : f.kind === 'clock' ? ` ${f.amount > 0 ? '+' : ''}${f.amount} ms` : ` ${f.amount} ms/fsync`;
  const hit = servers.length > 0 ? ` -> ${servers.join(',')}` : '';
  const target = targetText(f);
  // kill and pause are named by whom they hit, clock by whom too; the other shapes' names say it.
  const shown = f.kind === 'kill' || f.kind === 'pause' ? target : f.kind === 'clock' ? `${f.variant}${amount}, ${target}` : `${f.variant}${amount}`;
  return `${f.kind}(${shown}${hit})`;
}

/** The schedule as printed: one line per fault, `#n  +at s  for s  kind(variant, target)`. */
export function formatSchedule(faults: readonly PlannedFault[]): string {
  return faults.map((f) => `  #${String(f.n).padEnd(3)} at +${(f.atMs / 1000).toFixed(1).padStart(5)} s for ${(f.durationMs / 1000).toFixed(1)} s  ${describeFault(f)}`).join('\n');
}

/** Parses `--faults kill,pause,...`; throws an Error naming the unknown kinds. */
export function parseFaultKinds(text: string): FaultKind[] {
  const words = text.split(',').map((w) => w.trim()).filter(Boolean);
  const unknown = words.filter((w) => !(FAULT_KINDS as readonly string[]).includes(w));
  if (unknown.length > 0 || words.length === 0) throw new Error(`--faults takes a comma-separated list of ${FAULT_KINDS.join(', ')} (got "${text}")`);
  return [...new Set(words)] as FaultKind[];
}
