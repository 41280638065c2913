import type { Token } from '../../tracing/record.ts';
import type { Entry, Message } from '../raft/types.ts';
import type { WireEntry, WireRaftMessage } from './wire.ts';

/** Any token, the Raft core's opaque ones included: it is JSON on the wire. */
export function encodeToken(token: unknown): string {
  return token ? JSON.stringify(token) : '';
}

/** A malformed token is dropped rather than trusted: tracing must never break Raft. */
export function decodeToken(text: string): Token | undefined {
  if (!text) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Token;
  } catch {
    /* fall through */
  }
  return undefined;
}

const entryToWire = (e: Entry): WireEntry => ({ index: e.index, term: e.term, kind: e.kind, data: e.data, traceId: e.traceId ?? '' });

function entryFromWire(w: WireEntry): Entry {
  if (w.kind !== 'noop' && w.kind !== 'command') throw new Error(`entry ${w.index} has unknown kind "${w.kind}"`);
  return { index: w.index, term: w.term, kind: w.kind, data: w.data, ...(w.traceId ? { traceId: w.traceId } : {}) };
}

export function messageToWire(m: Message): WireRaftMessage {
  const base = { from: m.from, to: m.to, token: encodeToken(m.token) };
  switch (m.type) {
    case 'RequestVote':
      return { ...base, requestVote: { term: m.term, lastLogIndex: m.lastLogIndex, lastLogTerm: m.lastLogTerm, preVote: m.preVote } };
    case 'RequestVoteRes':
      return { ...base, requestVoteRes: { term: m.term, voteGranted: m.voteGranted, preVote: m.preVote } };
    case 'AppendEntries':
      return {
        ...base,
        appendEntries: { term: m.term, prevLogIndex: m.prevLogIndex, prevLogTerm: m.prevLogTerm, entries: m.entries.map(entryToWire), leaderCommit: m.leaderCommit, readSeq: m.readSeq, logTime: m.logTime ?? 0 },
      };
    case 'AppendEntriesRes':
      return {
        ...base,
        appendEntriesRes: {
          term: m.term,
          success: m.success,
          matchIndex: m.matchIndex,
          prevLogIndex: m.prevLogIndex,
          conflictIndex: m.conflictIndex,
          conflictTerm: m.conflictTerm,
          readSeq: m.readSeq,
          traceId: m.traceId ?? '',
          incarnation: m.incarnation ?? 0,
        },
      };
    case 'InstallSnapshot':
    case 'InstallSnapshotRes':
      // The core sends these only once the driver compacts its log, which it does not yet.
      throw new Error(`${m.type} is not wired to the transport yet (snapshots not wired yet)`);
  }
}

/** Throws on a message no peer of ours could have sent; the caller rejects the call. */
export function messageFromWire(w: WireRaftMessage): Message {
  if (!w.from || !w.to) throw new Error('message without from/to');
  const token = decodeToken(w.token);
  const base = { from: w.from, to: w.to, ...(token ? { token } : {}) };
  if (w.requestVote) return { type: 'RequestVote', ...base, ...w.requestVote };
  if (w.requestVoteRes) return { type: 'RequestVoteRes', ...base, ...w.requestVoteRes };
  if (w.appendEntries) {
    const a = w.appendEntries;
    const entries = a.entries.map(entryFromWire);
    entries.forEach((e, k) => {
      // The core appends these as they come: a gap or a term from the future would corrupt the log.
      if (e.index !== a.prevLogIndex + 1 + k) throw new Error(`entry ${e.index} does not follow prevLogIndex ${a.prevLogIndex} at position ${k}`);
      if (e.term > a.term || e.term < (k === 0 ? a.prevLogTerm : entries[k - 1].term)) throw new Error(`entry ${e.index} has term ${e.term} out of order`);
    });
    return { type: 'AppendEntries', ...base, term: a.term, prevLogIndex: a.prevLogIndex, prevLogTerm: a.prevLogTerm, entries, leaderCommit: a.leaderCommit, readSeq: a.readSeq, ...(a.logTime ? { logTime: a.logTime } : {}) };
  }
  if (w.appendEntriesRes) {
    const { traceId, ...r } = w.appendEntriesRes;
    return { type: 'AppendEntriesRes', ...base, ...r, ...(traceId ? { traceId } : {}) };
  }
  throw new Error('message with no body');
}
