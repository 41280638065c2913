import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TimelineStep } from '../tracing/timeline.ts';

/** One line of a process's timeline file (tracing/timeline.ts). */
export interface Mark {
  /** CLOCK_MONOTONIC, ms (fractional). */
  t: number;
  /** The file it came from: one per process. */
  pid: string;
  step: TimelineStep;
  index: number;
}

/** Every mark in `dir`, oldest first. A torn last line (a process killed mid-write) is skipped. */
export function readTimeline(dir: string): Mark[] {
  const marks: Mark[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.txt')) continue;
    const pid = file.slice(0, -4);
    for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      const [ns, step, index] = line.split(' ');
      if (!ns || !step || index === undefined || !/^\d+$/.test(ns)) continue;
      marks.push({ t: Number(BigInt(ns) / 1000n) / 1000, pid, step: step as TimelineStep, index: Number(index) });
    }
  }
  return marks.sort((a, b) => a.t - b.t);
}

/** The legs of a put's path, in order, each from one mark to the next. */
export const LEGS = [
  'client -> leader (request hop)',
  'leader: request -> proposal',
  'leader: proposal -> Ready',
  'leader -> follower (AppendEntries hop)',
  'follower: AppendEntries -> its Ready',
  'follower: save (write + fsync)',
  'follower: saved -> ack sent',
  'follower -> leader (ack hop)',
  'leader: ack -> commit Ready',
  'leader: commit Ready -> result applied',
  'leader -> client (reply hop)',
] as const;

export interface Breakdown {
  /** Puts whose every step was found in the window (one per proposal). */
  puts: number;
  /** The leader's proposals in the window. */
  proposals: number;
  /** Per leg (LEGS order), then 'total (client send -> reply)' and the leader's own save: µs. */
  rows: { leg: string; p50Us: number; meanUs: number }[];
}

/**
 * Lines up the steps of each batch the leader proposed in [from, to] (ms, the marks'
 * clock): the leader's and followers' steps by entry index; the client's send as the last
 * before the leader took the request, its reply as the first after the result was applied
 * (exact at concurrency 1, the closest match above it). The follower is the first to
 * receive the entries. Null when no put was found whole.
 */
export function breakdown(marks: readonly Mark[], from: number, to: number): Breakdown | null {
  const proposals = marks.filter((m) => m.step === 'leader.propose' && m.t >= from && m.t <= to);
  if (proposals.length === 0) return null;
  const leader = proposals[0].pid;
  const at = new Map(marks.map((m, k) => [m, k]));
  const after = (k: number, ok: (m: Mark) => boolean): Mark | null => {
    for (let j = k; j < marks.length; j++) if (ok(marks[j])) return marks[j];
    return null;
  };
  const before = (k: number, ok: (m: Mark) => boolean): Mark | null => {
    for (let j = k; j >= 0; j--) if (ok(marks[j])) return marks[j];
    return null;
  };
  const samples: number[][] = [];
  for (const p of proposals) {
    const k = at.get(p)!;
    const i = p.index;
    const request = before(k, (m) => m.step === 'leader.request' && m.pid === leader);
    const send = request && before(at.get(request)!, (m) => m.step === 'client.send');
    const ready = after(k, (m) => m.step === 'leader.ready' && m.pid === leader && m.index >= i);
    const saved = after(k, (m) => m.step === 'leader.saved' && m.pid === leader && m.index >= i);
    const append = after(k, (m) => m.step === 'follower.append' && m.index >= i);
    const follower = append?.pid;
    const fReady = append && after(at.get(append)!, (m) => m.step === 'follower.ready' && m.pid === follower && m.index >= i);
    const fSaved = fReady && after(at.get(fReady)!, (m) => m.step === 'follower.saved' && m.pid === follower && m.index >= i);
    const fAck = fSaved && after(at.get(fSaved)!, (m) => m.step === 'follower.ack' && m.pid === follower && m.index >= i);
    const ackRecv = after(k, (m) => m.step === 'leader.ackRecv' && m.pid === leader && m.index >= i);
    const commit = after(k, (m) => m.step === 'leader.ready.commit' && m.pid === leader && m.index >= i);
    const applied = commit && after(at.get(commit)!, (m) => m.step === 'leader.applied' && m.pid === leader);
    const reply = applied && after(at.get(applied)!, (m) => m.step === 'client.reply');
    const chain = [send, request, p, ready, append, fReady, fSaved, fAck, ackRecv, commit, applied, reply];
    if (!chain.every((m): m is Mark => m !== null) || !saved) continue;
    const legs = chain.slice(1).map((m, j) => m.t - chain[j].t);
    samples.push([...legs, reply!.t - send!.t, saved.t - ready!.t]);
  }
  if (samples.length === 0) return null;
  const names = [...LEGS, 'total (client send -> reply)', "leader's own save (write + fsync)"];
  return {
    puts: samples.length,
    proposals: proposals.length,
    rows: names.map((leg, j) => {
      const v = samples.map((s) => s[j]).sort((a, b) => a - b);
      return { leg, p50Us: v[v.length >> 1] * 1000, meanUs: (v.reduce((a, b) => a + b, 0) / v.length) * 1000 };
    }),
  };
}
