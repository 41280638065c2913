import type { ProcessCluster } from '../cluster/process-cluster.ts';
import { seededRng, type Rng } from '../raft/rng.ts';
import type { NetNamespaces } from './netns.ts';
import { describeFault, type PlannedFault } from './schedule.ts';
import { sleep, wallNow } from './time.ts';

/** A fault as it was injected: the servers it hit and when (ms on the clock of history.json's times, see time.ts). */
export interface AppliedFault {
  planned: PlannedFault;
  /** The servers it hit, resolved at injection (the leader then, ...). */
  servers: string[];
  /** What was done, e.g. "cut s1,s2 | s3,s4,s5 (packets)". */
  detail: string;
  /** Raw times on the monotonic clock of history.json (time.ts), ms: only differences mean anything. */
  startedAt: number;
  endedAt: number;
  /** The same, in ms after the clients started (the run's t0, as the schedule's atMs and the progress lines' +s). */
  startMs: number;
  endMs: number;
  /** A step that failed (a server that did not restart...): the fault may not have been undone in full. */
  error?: string;
}

/** Directed cuts [from, to]: `to` does not hear `from`. */
type Cuts = [string, string][];

/**
 * The nemesis (Jepsen's word): injects the planned faults one at a time into real server
 * processes and undoes each after its duration. Link cuts between whole groups are real
 * dropped packets when the run has namespaces (`net`), message drops in the servers
 * (SetBlockedPeers) otherwise; one-way cuts are always message drops (netns.ts says why).
 */
export class Nemesis {
  /** The fault in force, for progress lines: `#3 kill(follower -> s2)`, or null between faults. */
  current: string | null = null;
  private t0 = 0;

  constructor(
    private readonly cluster: ProcessCluster,
    private readonly net: NetNamespaces | null,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Runs `schedule` against the cluster, each fault at `t0 + atMs` (or as soon as the
   * previous one is undone, if that is later). Returns what was applied; stops between
   * faults when `signal` aborts. Never throws for a fault's step: the error is recorded.
   */
  async run(schedule: readonly PlannedFault[], t0: number, signal: AbortSignal): Promise<AppliedFault[]> {
    const applied: AppliedFault[] = [];
    this.t0 = t0;
    for (const f of schedule) {
      const wait = t0 + f.atMs - wallNow();
      if (wait > 0) await sleep(wait, signal);
      if (signal.aborted) break;
      applied.push(await this.apply(f, signal));
    }
    return applied;
  }

  /** Undoes everything a fault may leave behind: resumes, heals, clears injected faults, starts servers that are down. */
  async healAll(): Promise<string[]> {
    const problems: string[] = [];
    for (const id of this.cluster.ids) if (this.cluster.state(id) === 'paused') this.cluster.resume(id);
    await this.cluster.heal().catch((err: Error) => problems.push(`heal: ${err.message}`));
    await this.net?.setCuts([]).catch((err: Error) => problems.push(`heal (packets): ${err.message}`));
    for (const id of this.cluster.ids) {
      if (this.cluster.state(id) === 'down') await this.cluster.start(id).catch((err: Error) => problems.push(`start ${id}: ${err.message}`));
      else await this.cluster.adminOf(id).injectFault({ clockSkewMs: 0, fsyncDelayMs: 0 }).catch((err: Error) => problems.push(`clear faults on ${id}: ${err.message}`));
    }
    return problems;
  }

  private async apply(f: PlannedFault, signal: AbortSignal): Promise<AppliedFault> {
    const rng = seededRng(f.seed);
    const startedAt = wallNow();
    const record: AppliedFault = { planned: f, servers: [], detail: '', startedAt, endedAt: startedAt, startMs: Math.round(startedAt - this.t0), endMs: Math.round(startedAt - this.t0) };
    this.current = `#${f.n} ${describeFault(f)}`;
    let undo: () => Promise<void> = async () => undefined;
    let midway: (() => Promise<void>) | null = null;
    try {
      const leader = await this.leader();
      const ids = [...this.cluster.ids].sort();
      const L = leader ?? ids[rng.int(0, ids.length)];
      const followers = ids.filter((id) => id !== L);
      const target = f.target.role === 'leader' ? L : f.target.role === 'follower' ? followers[f.target.index % followers.length] : ids[f.target.index % ids.length];
      const leaderNote = leader ? '' : ` (no leader known: took ${L})`;
      switch (f.kind) {
        case 'kill': {
          const victims = killVictims(f.variant, L, followers, rng);
          record.servers = victims;
          await Promise.all(victims.map((id) => this.cluster.kill(id)));
          record.detail = `kill -9 ${victims.join(', ')}${leaderNote}`;
          undo = async () => {
            await Promise.all(victims.map((id) => (this.cluster.state(id) === 'down' ? this.cluster.start(id) : Promise.resolve())));
          };
          break;
        }
        case 'pause': {
          record.servers = [target];
          if (this.cluster.state(target) !== 'up') throw new Error(`${target} is ${this.cluster.state(target)}, not paused`);
          this.cluster.pause(target);
          record.detail = `SIGSTOP ${target}${leaderNote}`;
          undo = async () => {
            if (this.cluster.state(target) === 'paused') this.cluster.resume(target);
          };
          break;
        }
        case 'partition':
        case 'netsplit': {
          const { cuts, detail, servers } = splitCuts(f.variant, target, L, ids, rng);
          record.servers = servers;
          record.detail = `${detail}${this.net ? ' (packets dropped)' : ' (messages dropped)'}${leaderNote}`;
          await this.cut(cuts);
          undo = () => this.cut([]);
          break;
        }
        case 'oneway': {
          const cuts: Cuts = f.variant === 'leader-deaf' ? followers.map((p) => [p, L]) : f.variant === 'leader-mute' ? followers.map((p) => [L, p]) : [[L, target]];
          record.servers = f.variant === 'follower-deaf' ? [L, target] : [L];
          record.detail = `${cuts.map(([a, b]) => `${b} does not hear ${a}`).join('; ')}${leaderNote}`;
          await this.cluster.cutLinks(cuts);
          undo = () => this.cluster.heal();
          break;
        }
        case 'clock': {
          record.servers = [target];
          const skew = f.amount ?? 0;
          await this.cluster.adminOf(target).injectFault({ clockSkewMs: skew, fsyncDelayMs: 0 });
          record.detail = `${target}'s wall clock ${skew > 0 ? '+' : ''}${skew} ms, jumping to ${-skew > 0 ? '+' : ''}${-skew} ms halfway${leaderNote}`;
          // Halfway the clock jumps the other way (an NTP step): deadlines computed before the
          // jump are then measured on a clock that moved by twice the skew.
          midway = () => this.cluster.adminOf(target).injectFault({ clockSkewMs: -skew, fsyncDelayMs: 0 }).then(() => undefined);
          undo = () => this.clearFaults([target]);
          break;
        }
        case 'disk': {
          const servers = f.variant === 'slow-all' ? ids : [target];
          record.servers = servers;
          await Promise.all(servers.map((id) => this.cluster.adminOf(id).injectFault({ clockSkewMs: 0, fsyncDelayMs: f.amount ?? 0 })));
          record.detail = `fsync +${f.amount} ms on ${servers.join(', ')}${leaderNote}`;
          undo = () => this.clearFaults(servers);
          break;
        }
      }
      this.current = `#${f.n} ${describeFault(f, record.servers)}`;
      this.log(`fault #${f.n} ${describeFault(f, record.servers)}: ${record.detail}`);
    } catch (err) {
      record.error = (err as Error).message;
      this.log(`fault #${f.n} ${describeFault(f)}: could not inject: ${record.error}`);
    }
    if (midway) {
      await sleep(Math.max(0, startedAt + f.durationMs / 2 - wallNow()), signal);
      await midway().catch((err: Error) => this.log(`fault #${f.n}: halfway step failed: ${err.message}`));
    }
    await sleep(Math.max(0, startedAt + f.durationMs - wallNow()), signal);
    try {
      await undo();
    } catch (err) {
      record.error = [record.error, `undo: ${(err as Error).message}`].filter(Boolean).join('; ');
      this.log(`fault #${f.n}: could not undo: ${(err as Error).message}`);
    }
    record.endedAt = wallNow();
    record.endMs = Math.round(record.endedAt - this.t0);
    this.current = null;
    return record;
  }

  private async cut(cuts: Cuts): Promise<void> {
    if (this.net) await this.net.setCuts(cuts);
    else await this.cluster.cutLinks(cuts);
  }

  private async clearFaults(ids: string[]): Promise<void> {
    await Promise.all(ids.filter((id) => this.cluster.state(id) === 'up').map((id) => this.cluster.adminOf(id).injectFault({ clockSkewMs: 0, fsyncDelayMs: 0 })));
  }

  /** The leader with the highest term among the servers that answer, or null. */
  private async leader(): Promise<string | null> {
    const statuses = await this.cluster.statuses();
    const leaders = statuses.filter((s) => s.role === 'leader').sort((a, b) => b.term - a.term);
    return leaders[0]?.serverId ?? null;
  }
}

function killVictims(variant: string, leader: string, followers: string[], rng: Rng): string[] {
  const shuffled = shuffle(followers, rng);
  switch (variant) {
    case 'leader':
      return [leader];
    case 'follower':
      return shuffled.slice(0, 1);
    case 'two':
      return [leader, ...shuffled.slice(0, 1)];
    case 'two-followers':
      return shuffled.slice(0, 2);
    default: {
      // majority: the cluster cannot commit until they are back.
      const n = followers.length + 1;
      return [leader, ...shuffled.slice(0, Math.floor(n / 2))];
    }
  }
}

/** The directed cuts of a partition shape, cutting both directions of every link between sides. */
function splitCuts(variant: string, target: string, leader: string, ids: string[], rng: Rng): { cuts: Cuts; detail: string; servers: string[] } {
  const between = (a: string[], b: string[]): Cuts => a.flatMap((x) => b.flatMap((y): Cuts => [[x, y], [y, x]]));
  if (variant === 'isolate-leader' || variant === 'isolate-follower') {
    const rest = ids.filter((id) => id !== target);
    return { cuts: between([target], rest), detail: `isolate ${target} | ${rest.join(',')}`, servers: [target] };
  }
  if (variant === 'majority-minority') {
    const others = shuffle(ids.filter((id) => id !== leader), rng);
    const minoritySize = Math.floor((ids.length - 1) / 2);
    // The leader lands on either side: in the minority, it must step down and the majority elect anew.
    const leaderInMinority = rng.next() < 0.5;
    const minority = leaderInMinority ? [leader, ...others.slice(0, minoritySize - 1)] : others.slice(0, minoritySize);
    const majority = ids.filter((id) => !minority.includes(id));
    return { cuts: between(minority, majority), detail: `split ${minority.join(',')} | ${majority.join(',')} (leader ${leader} in the ${leaderInMinority ? 'minority' : 'majority'})`, servers: minority };
  }
  if (variant === 'bridge') {
    // Jepsen's bridge: two halves that meet only in one server, which hears both.
    const order = shuffle(ids, rng);
    const mid = Math.floor(order.length / 2);
    const left = order.slice(0, mid);
    const bridge = order[mid];
    const right = order.slice(mid + 1);
    return { cuts: between(left, right), detail: `bridge ${left.join(',')} | ${bridge} | ${right.join(',')}`, servers: [bridge] };
  }
  // ring: each server hears only its two neighbours on a random ring.
  const order = shuffle(ids, rng);
  const n = order.length;
  const cuts: Cuts = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const d = Math.abs(i - j);
      if (i !== j && d !== 1 && d !== n - 1) cuts.push([order[i], order[j]]);
    }
  }
  return { cuts, detail: `ring ${order.join(' - ')} - ${order[0]}`, servers: [] };
}

/** Fisher-Yates with the fault's own RNG. */
function shuffle<T>(list: readonly T[], rng: Rng): T[] {
  const a = [...list];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
