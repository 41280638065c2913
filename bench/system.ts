import { readFileSync } from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import type { Target } from './workload.ts';

export interface ConnectOptions {
  /**
   * Distinct per client across the whole run; with `keep`, the name of a slot that a later
   * connect with the same id takes over.
   */
  clientId: string;
  /**
   * The client outlives the target: closing the target leaves it running, and a later
   * connect with the same clientId gets it back (stopped with the system). The bench's
   * rows keep one client per slot, as an application keeps its clients: a RaftKV client
   * is a host of the trace, every vector clock after its first operation names it, and a
   * fresh set per row made every record of the traced rows carry all the rows' clients
   * before it (17 hosts by the row at 64, 33 at 256). Systems whose clients are not
   * traced may ignore it.
   */
  keep?: boolean;
  /** The member this client talks to first. */
  memberId: string;
  attemptTimeoutMs: number;
  opTimeoutMs: number;
}

/** A running cluster of some key-value store, as the harness drives it. */
export interface BenchSystem {
  /** e.g. "raftkv-3", "etcd-3", "raftkv-3+trace". */
  readonly name: string;
  readonly kind: 'raftkv' | 'etcd';
  readonly members: string[];
  connect(opts: ConnectOptions): Promise<Target>;
  /** Pids of the cluster's processes now (servers, and a trace server if any). */
  pids(): number[];
  /** The member that leads now (waits for an agreed leader). */
  leader(timeoutMs?: number): Promise<string>;
  /** kill -9. */
  kill(memberId: string): Promise<void>;
  /** Starts a killed member again on its data and waits until it serves. */
  restart(memberId: string): Promise<void>;
  /** Stops every process of the cluster and removes its data; safe to call twice. */
  stop(): Promise<void>;
  /**
   * Waits for work a row left behind once its load stopped (a tracing server's backlog);
   * resolves with how long that took in ms. Absent: nothing is ever left behind.
   */
  settle?(): Promise<number>;
}

/**
 * The members clients should talk to, round-robin from a follower: client i gets
 * order[i % n]. A single-client row thus goes through a follower (which forwards to the
 * leader, in both RaftKV and etcd), and several clients spread over every member.
 */
export function spreadOrder(members: string[], leader: string): string[] {
  const li = members.indexOf(leader);
  if (li < 0) return members;
  return members.map((_, k) => members[(li + 1 + k) % members.length]);
}

export { freePorts } from '../src/cluster/free-ports.ts';

/** Resolves once something accepts TCP connections on host:port, or rejects after timeoutMs. */
export async function waitForPort(addr: string, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the process behind ${addr} exited`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host, port });
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened on ${addr} within ${timeoutMs} ms`);
}

/** CPU seconds (user + system) used so far by the processes `pids` (Linux /proc; 0 elsewhere). */
export function cpuSecondsOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    } catch {
      // gone, or not Linux
    }
  }
  return ticks / CLK_TCK;
}

/** USER_HZ: 100 on every mainstream Linux build. */
const CLK_TCK = 100;

/** CPU seconds the whole machine has been busy (all cpus, everything but idle). */
export function machineBusySeconds(): number {
  let ms = 0;
  for (const c of os.cpus()) ms += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  return ms / 1000;
}

/** Cores busy machine-wide over the next `ms` (sampled now: call before starting anything). */
export async function machineBusyCores(ms = 1000): Promise<number> {
  const a = machineBusySeconds();
  const t = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return (machineBusySeconds() - a) / ((Date.now() - t) / 1000);
}

/** Notes for a bench report: each one printed as `note: ...` as it is taken, and kept for the JSON. */
export function noteTaker(log: (line: string) => void): { notes: string[]; note: (s: string) => void } {
  const notes: string[] = [];
  return {
    notes,
    note: (s) => {
      notes.push(s);
      log(`note: ${s}`);
    },
  };
}
