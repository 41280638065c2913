import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodeConfEntry, type ConfChange } from '../../src/raft/conf-change.ts';
import type { AppendEntries, AppendEntriesRes, ConfState, Entry, RequestVote, RequestVoteRes } from '../../src/raft/types.ts';
import { RaftTrace } from '../../tracing/raft-trace.ts';
import { MemorySink } from '../../tracing/record.ts';
import { formatJsonl, formatShiViz } from '../../tracing/shiviz.ts';
import { Tracer } from '../../tracing/tracer.ts';

export const S = ['server0', 'server1', 'server2', 'server3', 'server4'] as const;
const [S0, S1, S2, S3, S4] = S;
/** The run's configured servers (meta.json): the voters before any change. */
export const INITIAL = [S0, S1, S2];

export interface MembershipRunOptions {
  /**
   * The change server0 (leader of term 1) makes:
   * - `grow` (default): addNode server3, addNode server4: the joint configuration
   *   C_old,new ({server0..server4} and {server0,server1,server2}), then leaveJoint to
   *   {server0..server4};
   * - `learners`: addLearnerNode server3, addLearnerNode server4 (one entry, voters unchanged);
   * - `removeLeader`: removeNode server0, through the joint configuration to {server1,server2}.
   */
  change?: 'grow' | 'learners' | 'removeLeader';
  /**
   * How far a voter change gets before the election of term 2: `joint` (C_old,new
   * committed, not left), `leaving` (leaveJoint proposed and replicated, not committed),
   * `done` (default: C_new committed).
   */
  stage?: 'joint' | 'leaving' | 'done';
  /** Who wins term 2 (server0 has gone quiet), and whose votes it gets. */
  winner?: string;
  grants?: string[];
  /** Voters of the winner's configuration it does not send RequestVote to. */
  notAsked?: string[];
  /** Faults of the leader of term 1. */
  fault?: 'proposeWhilePending' | 'proposeWhileJoint' | 'leaderStaysOn';
}

export interface MembershipRun {
  dir: string;
  /** The term-2 winner. */
  winner: string;
}

/**
 * A scripted traced run with a membership change (Raft §6), recorded through the real
 * Tracer and RaftTrace with the bodies the core records. meta.json lists the initial
 * voters server0..server2; server3 and server4 start empty and join.
 *
 * 1. server0 is elected in term 1 with server1's vote and commits its noop (index 1).
 * 2. server3 and server4 start; server0 proposes the change (index 2), replicates it,
 *    commits it (Commit, ConfChangeCommitted); for a voter change it then proposes
 *    leaveJoint (index 3) and commits it, as far as `stage` says.
 * 3. server0 tells every follower the commit index, and goes quiet.
 * 4. `winner` campaigns in term 2 (RequestVote to the voters of the configuration in force
 *    but `notAsked`), gets `grants`, and records LeaderElected.
 *
 * Writes trace.jsonl, shiviz.log, history.json (empty) and meta.json into `dir`.
 */
export function produceMembershipRun(dir: string, opts: MembershipRunOptions = {}): MembershipRun {
  const change = opts.change ?? 'grow';
  const stage = opts.stage ?? 'done';
  const s = new Script();
  const L = S0;
  for (const id of INITIAL) s.startServer(id);
  s.vote(L, S1, 1, true);
  s.raft(L).leaderElected(L, 1);
  const log: Entry[] = [{ index: 1, term: 1, kind: 'noop', data: '' }];
  const followers: string[] = [S1, S2];
  for (const to of followers) s.append(L, to, log, 0, 1, 0);
  s.raft(L).commit(log[0]);
  let commitIndex = 1;

  for (const id of [S3, S4]) s.startServer(id);
  if (change !== 'removeLeader') followers.push(S3, S4);
  const initial: ConfState = conf(INITIAL);
  const propose = (c: ConfChange, before: ConfState, after: ConfState): Entry => {
    const e: Entry = { index: log.length + 1, term: 1, kind: 'config', data: encodeConfEntry({ change: c, conf: after }) };
    log.push(e);
    s.raft(L).confChangeProposed(L, e, c, before, after);
    for (const to of followers) s.append(L, to, log, 0, log.length, commitIndex);
    return e;
  };
  const commit = (e: Entry, after: ConfState): void => {
    s.raft(L).commit(e);
    s.raft(L).confChangeCommitted(L, e, after);
    commitIndex = e.index;
  };

  let inForce: ConfState;
  if (change === 'learners') {
    const after = conf(INITIAL, [], [S3, S4]);
    if (opts.fault === 'proposeWhilePending') {
      const first = conf(INITIAL, [], [S3]);
      const e2 = propose(ops(['addLearnerNode', S3]), initial, first);
      const e3 = propose(ops(['addLearnerNode', S4]), first, after);
      commit(e2, first);
      commit(e3, after);
    } else {
      commit(propose(ops(['addLearnerNode', S3], ['addLearnerNode', S4]), initial, after), after);
    }
    inForce = after;
  } else {
    const cNew = change === 'grow' ? [...S] : [S1, S2];
    const joint = conf(cNew, INITIAL);
    const final = conf(cNew);
    const c = change === 'grow' ? ops(['addNode', S3], ['addNode', S4]) : ops(['removeNode', S0]);
    commit(propose(c, initial, joint), joint);
    inForce = joint;
    if (opts.fault === 'proposeWhileJoint') {
      const bad = conf([S0, S1, S3, S4], INITIAL);
      propose(ops(['removeNode', S2]), joint, bad);
    } else if (stage !== 'joint') {
      const leave = propose({ changes: [] }, joint, final);
      inForce = final;
      if (stage === 'done') commit(leave, final);
    }
  }
  // The followers learn the commit index (a traced heartbeat: it moves their commit index).
  for (const to of followers) s.append(L, to, log, log.length, log.length, commitIndex);
  if (opts.fault === 'leaderStaysOn') {
    // The removed leader goes on: a command of its term, replicated and committed.
    const e: Entry = { index: log.length + 1, term: 1, kind: 'command', data: 'after' };
    log.push(e);
    for (const to of [S1, S2]) s.append(L, to, log, e.index - 1, e.index, commitIndex);
    s.raft(L).commit(e);
  }

  const winner = opts.winner ?? S3;
  const voters = [...new Set([...inForce.voters, ...inForce.votersOutgoing])];
  const grants = new Set(opts.grants ?? [S4, S1]);
  for (const to of [...voters, ...inForce.learners]) {
    if (to === winner || opts.notAsked?.includes(to)) continue;
    if (!voters.includes(to) && !grants.has(to)) continue;
    s.vote(winner, to, 2, grants.has(to));
  }
  s.raft(winner).leaderElected(winner, 2);

  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'trace.jsonl'), formatJsonl(s.sink.records));
  writeFileSync(path.join(dir, 'shiviz.log'), formatShiViz(s.sink.records));
  writeFileSync(path.join(dir, 'history.json'), '[]');
  writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ servers: INITIAL, scenario: 'check-membership-run' }));
  return { dir, winner };
}

function conf(voters: readonly string[], votersOutgoing: readonly string[] = [], learners: readonly string[] = []): ConfState {
  return { voters: [...voters], votersOutgoing: [...votersOutgoing], learners: [...learners] };
}

function ops(...changes: [ 'addNode' | 'addLearnerNode' | 'removeNode', string][]): ConfChange {
  return { changes: changes.map(([type, nodeId]) => ({ type, nodeId })) };
}

function addr(id: string): string {
  return `127.0.0.1:${7000 + Number(id.replace(/\D/g, ''))}`;
}

/** Hosts with their tracers, messages between them built as the core builds them. */
class Script {
  readonly sink = new MemorySink();
  private readonly tracers = new Map<string, Tracer>();
  private readonly raftTraces = new Map<string, RaftTrace>();

  raft(id: string): RaftTrace {
    return this.raftTraces.get(id)!;
  }

  startServer(id: string): void {
    const t = new Tracer(id, this.sink);
    this.tracers.set(id, t);
    t.record('ServerStart', { serverId: id });
    const rt = new RaftTrace(t, false);
    this.raftTraces.set(id, rt);
    rt.raftStart(id);
    t.record('ServerListening', { serverId: id, addr: addr(id) });
  }

  vote(candidate: string, voter: string, term: number, granted: boolean): void {
    const m: RequestVote = { type: 'RequestVote', from: candidate, to: voter, term, lastLogIndex: 0, lastLogTerm: 0, preVote: false };
    m.token = this.raft(candidate).requestVote(m);
    this.raft(voter).requestVoteRecv(m);
    const res: RequestVoteRes = { type: 'RequestVoteRes', from: voter, to: candidate, term, voteGranted: granted, preVote: false };
    res.token = this.raft(voter).requestVoteRes(res);
    this.raft(candidate).requestVoteResRecv(res);
  }

  /** One AppendEntries (term 1) of `log`'s entries after `prevLogIndex` up to `lastIndex`, and its successful answer. */
  append(leader: string, to: string, log: Entry[], prevLogIndex: number, lastIndex: number, leaderCommit: number): void {
    const entries = log.slice(prevLogIndex, lastIndex);
    const m: AppendEntries = { type: 'AppendEntries', from: leader, to, term: 1, prevLogIndex, prevLogTerm: prevLogIndex > 0 ? 1 : 0, entries, leaderCommit, readSeq: 0 };
    m.token = this.raft(leader).appendEntries(m, true);
    this.raft(to).appendEntriesRecv(m);
    const res: AppendEntriesRes = { type: 'AppendEntriesRes', from: to, to: leader, term: 1, success: true, matchIndex: lastIndex, prevLogIndex, conflictIndex: 0, conflictTerm: 0, readSeq: 0 };
    res.token = this.raft(to).appendEntriesRes(res, m);
    this.raft(leader).appendEntriesResRecv(res);
  }
}
