import { Raft, type RaftConfig } from '../../src/raft/raft.ts';
import { seededRng } from '../../src/raft/rng.ts';
import type { Entry, HardState, Message, Ready } from '../../src/raft/types.ts';

/**
 * Helpers for transcript tests in the etcd style: a Raft built directly, exact messages
 * stepped in, and the exact messages and Ready that must come out, written one per line.
 */

/** Entries 1..n with the given terms. */
export function logOf(...terms: number[]): Entry[] {
  return terms.map((term, i) => ({ index: i + 1, term, kind: 'command', data: `e${i + 1}` }));
}

export function node(id: string, over: Partial<RaftConfig> = {}): Raft {
  return new Raft({ id, peers: ['a', 'b', 'c'], electionTick: 10, heartbeatTick: 1, rng: seededRng(1), ...over });
}

/** One line per message: what matters for the protocol, nothing else. */
export function show(m: Message): string {
  const head = `${m.from}->${m.to}`;
  switch (m.type) {
    case 'RequestVote':
      return `${head} ${m.preVote ? 'PreVote' : 'Vote'} t${m.term} last=${m.lastLogIndex}/${m.lastLogTerm}${m.transfer ? ' transfer' : ''}`;
    case 'RequestVoteRes':
      return `${head} ${m.preVote ? 'PreVoteRes' : 'VoteRes'} t${m.term} ${m.voteGranted ? 'granted' : 'rejected'}`;
    case 'AppendEntries': {
      const ents = m.entries.map((e) => `${e.index}/${e.term}`).join(' ');
      return `${head} App t${m.term} prev=${m.prevLogIndex}/${m.prevLogTerm} [${ents}] commit=${m.leaderCommit} seq=${m.readSeq}`;
    }
    case 'AppendEntriesRes':
      return m.success
        ? `${head} AppRes t${m.term} ok match=${m.matchIndex} prev=${m.prevLogIndex} seq=${m.readSeq}`
        : `${head} AppRes t${m.term} reject prev=${m.prevLogIndex} hint=${m.conflictIndex}/${m.conflictTerm} seq=${m.readSeq}`;
    case 'InstallSnapshot':
      return `${head} Snap t${m.term} snap=${m.snapshot.index}/${m.snapshot.term}`;
    case 'InstallSnapshotRes':
      return `${head} SnapRes t${m.term} ${m.success ? 'ok' : 'reject'} snap=${m.snapshotIndex} match=${m.matchIndex}`;
    case 'TimeoutNow':
      return `${head} TimeoutNow t${m.term}`;
  }
}

export interface Flushed {
  /** Sendable before persisting (Ready.messages). */
  now: string[];
  /** Released by advance() once the Ready was persisted. */
  afterPersist: string[];
  hardState: HardState | null;
  entries: string[];
  committed: number[];
  readStates: Ready['readStates'];
  role: string;
  term: number;
  /** The raw messages, to step into other nodes. */
  messages: Message[];
}

/** Takes every Ready (persisting each at once) until there is none; null when there was nothing. */
export function flush(r: Raft): Flushed | null {
  let out: Flushed | null = null;
  for (let rd = r.ready(); rd; rd = r.ready()) {
    const after = r.advance(rd);
    out ??= { now: [], afterPersist: [], hardState: null, entries: [], committed: [], readStates: [], role: '', term: 0, messages: [] };
    out.now.push(...rd.messages.map(show));
    out.afterPersist.push(...after.map(show));
    out.hardState = rd.hardState ?? out.hardState;
    out.entries.push(...rd.entries.map((e) => `${e.index}/${e.term}`));
    out.committed.push(...rd.committedEntries.map((e) => e.index));
    out.readStates.push(...rd.readStates);
    out.role = rd.softState.role;
    out.term = rd.softState.term;
    out.messages.push(...rd.messages, ...after);
  }
  return out;
}

/** Every message a Flushed holds, in send order, as lines. */
export function sent(f: Flushed | null): string[] {
  return f ? [...f.now, ...f.afterPersist] : [];
}

/** Ticks until the node has something to hand out (at most `max` ticks). */
export function tickUntilReady(r: Raft, max = 100): number {
  for (let n = 1; n <= max; n++) {
    r.tick();
    if (r.hasReady()) return n;
  }
  throw new Error(`${r.id} had nothing to hand out after ${max} ticks`);
}

export function pick(f: Flushed | null, type: Message['type'], to: string): Message {
  const m = f?.messages.find((x) => x.type === type && x.to === to);
  if (!m) throw new Error(`no ${type} to ${to} in ${JSON.stringify(f && sent(f))}`);
  return m;
}

/** Makes `id` leader of term `term` by stepping granted votes into it. */
export function elect(r: Raft, voter: string): Flushed {
  flush(r);
  r.campaignNow();
  let f = flush(r)!;
  const pre = f.messages.find((m) => m.type === 'RequestVote' && m.to === voter && m.preVote);
  if (pre) {
    r.step({ type: 'RequestVoteRes', from: voter, to: r.id, term: pre.term, voteGranted: true, preVote: true });
    f = flush(r)!;
  }
  const vote = pick(f, 'RequestVote', voter);
  r.step({ type: 'RequestVoteRes', from: voter, to: r.id, term: vote.term, voteGranted: true, preVote: false });
  return flush(r)!;
}
