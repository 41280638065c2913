import { isJointConf, setText, type Configuration } from './config-in-force.ts';

/**
 * Counting a majority under one configuration (Raft §6): of its voters, and while joint
 * of C_new (`voters`) and of C_old (`votersOutgoing`) both. Only voters count: learners
 * and servers outside the configuration never do. Its own arithmetic, not src/raft's
 * quorum(): the checker must not share the code it judges.
 */

export interface HalfCount {
  /** 'C_new' or 'C_old' while joint, '' otherwise. */
  label: string;
  voters: string[];
  /** Those of `voters` that granted. */
  granted: string[];
  needed: number;
  ok: boolean;
}

export interface MajorityCount {
  conf: Configuration;
  halves: HalfCount[];
  ok: boolean;
}

export function majorityOf(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** How `granted` (ids, e.g. the servers whose votes a leader holds, itself included) fares under `conf`. */
export function countMajority(conf: Configuration, granted: ReadonlySet<string>): MajorityCount {
  const half = (label: string, voters: string[]): HalfCount => {
    const g = voters.filter((v) => granted.has(v));
    const needed = majorityOf(voters.length);
    return { label, voters, granted: g, needed, ok: g.length >= needed };
  };
  const halves = isJointConf(conf) ? [half('C_new', conf.voters), half('C_old', conf.votersOutgoing)] : [half('', conf.voters)];
  return { conf, halves, ok: halves.every((h) => h.ok) };
}

/** `3 of {s0,s1,s2,s3,s4}`, or `3 of {…} (C_new) and 2 of {…} (C_old)` while joint. */
export function neededText(count: MajorityCount): string {
  return count.halves.map((h) => `${h.needed} of ${setText(h.voters)}${h.label ? ` (${h.label})` : ''}`).join(' and ');
}

/** `2 of 5 (server0, server3)`, per half while joint: what `granted` reached. */
export function reachedText(count: MajorityCount): string {
  return count.halves
    .map((h) => `${h.granted.length} of ${h.voters.length}${h.label ? ` of ${h.label}` : ''}${h.granted.length ? ` (${h.granted.join(', ')})` : ''}`)
    .join(' and ');
}
