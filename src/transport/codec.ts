import type { Token } from '../../tracing/record.ts';
import { decodeConfEntry, normalizeConf } from '../raft/conf-change.ts';
import type { ConfState, Entry, InstallSnapshot, Message } from '../raft/types.ts';
import type { WireConfState, WireEntry, WireRaftMessage, WireSnapshotHeader } from './wire.ts';
import { MAX_SNAPSHOT_BYTES } from './wire-size.ts';

/**
 * Any token, the Raft core's opaque ones included: it is JSON on the wire. A frozen token
 * is one object shared by many messages (tracing/raft-trace.ts: the AfterToken of every
 * heartbeat between two recorded actions), so its JSON is kept and written once.
 */
export function encodeToken(token: unknown): string {
  if (!token) return '';
  if (typeof token !== 'object' || !Object.isFrozen(token)) return JSON.stringify(token);
  let json = encoded.get(token);
  if (json === undefined) encoded.set(token, (json = JSON.stringify(token)));
  return json;
}

const encoded = new WeakMap<object, string>();

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
  if (w.kind !== 'noop' && w.kind !== 'command' && w.kind !== 'config') throw new Error(`entry ${w.index} has unknown kind "${w.kind}"`);
  // The core reads a config entry (the membership from then on): a malformed one is refused here, whole.
  if (w.kind === 'config') {
    try {
      decodeConfEntry(w.data);
    } catch (err) {
      throw new Error(`entry ${w.index}: ${(err as Error).message}`);
    }
  }
  return { index: w.index, term: w.term, kind: w.kind, data: w.data, ...(w.traceId ? { traceId: w.traceId } : {}) };
}

export function messageToWire(m: Message): WireRaftMessage {
  const base = { from: m.from, to: m.to, token: encodeToken(m.token) };
  switch (m.type) {
    case 'RequestVote':
      return { ...base, requestVote: { term: m.term, lastLogIndex: m.lastLogIndex, lastLogTerm: m.lastLogTerm, preVote: m.preVote, transfer: m.transfer ?? false } };
    case 'TimeoutNow':
      return { ...base, timeoutNow: { term: m.term } };
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
    case 'InstallSnapshotRes':
      return {
        ...base,
        installSnapshotRes: { term: m.term, snapshotIndex: m.snapshotIndex, success: m.success, matchIndex: m.matchIndex, incarnation: m.incarnation ?? 0 },
      };
    case 'InstallSnapshot':
      // Not a RaftMessage: it streams in SnapshotChunks on a call of its own (snapshotHeaderToWire).
      throw new Error('InstallSnapshot travels on RaftPeer.InstallSnapshot, not in a RaftBatch');
  }
}

/** Throws on a message no peer of ours could have sent; the caller rejects the call. */
export function messageFromWire(w: WireRaftMessage): Message {
  if (!w.from || !w.to) throw new Error('message without from/to');
  const token = decodeToken(w.token);
  const base = { from: w.from, to: w.to, ...(token ? { token } : {}) };
  if (w.requestVote) {
    const { transfer, ...r } = w.requestVote;
    return { type: 'RequestVote', ...base, ...r, ...(transfer ? { transfer: true } : {}) };
  }
  if (w.timeoutNow) return { type: 'TimeoutNow', ...base, term: w.timeoutNow.term };
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
  if (w.installSnapshotRes) {
    const r = w.installSnapshotRes;
    // The core takes a success as "the log matches up to matchIndex", which covers the snapshot.
    if (r.success && r.matchIndex < r.snapshotIndex) throw new Error(`InstallSnapshotRes: success with matchIndex ${r.matchIndex} below snapshotIndex ${r.snapshotIndex}`);
    return {
      type: 'InstallSnapshotRes',
      ...base,
      term: r.term,
      snapshotIndex: r.snapshotIndex,
      success: r.success,
      matchIndex: r.matchIndex,
      ...(r.incarnation ? { incarnation: r.incarnation } : {}),
    };
  }
  throw new Error('message with no body');
}

/**
 * The SnapshotHeader of an InstallSnapshot: everything in it but the data, which goes in
 * SnapshotChunks (snapshot-stream.ts). `token` is encoded as on any RaftMessage.
 */
export function snapshotHeaderToWire(m: InstallSnapshot): WireSnapshotHeader {
  return {
    from: m.from,
    to: m.to,
    token: encodeToken(m.token),
    term: m.term,
    snapshotIndex: m.snapshot.index,
    snapshotTerm: m.snapshot.term,
    totalBytes: m.snapshot.data.byteLength,
    ...(m.snapshot.conf ? { conf: confToWire(m.snapshot.conf) } : {}),
  };
}

function confToWire(cs: ConfState): WireConfState {
  return { voters: [...cs.voters], learners: [...cs.learners], votersOutgoing: [...cs.votersOutgoing] };
}

/** A received ConfState, checked (no id in two roles, none twice); throws on a malformed one. */
function confFromWire(w: WireConfState): ConfState {
  return normalizeConf({ voters: w.voters ?? [], learners: w.learners ?? [], votersOutgoing: w.votersOutgoing ?? [] });
}

/**
 * Checks a received SnapshotHeader; throws on one no peer of ours could have sent: no
 * from/to, a snapshot at index 0 or of term 0 (a snapshot covers at least one entry), a
 * snapshot term above the leader's term, or more than MAX_SNAPSHOT_BYTES of data.
 * Whether the sender is a peer and the receiver is us is the caller's to check.
 */
export function checkSnapshotHeader(h: WireSnapshotHeader): void {
  if (!h.from || !h.to) throw new Error('snapshot without from/to');
  if (!(h.snapshotIndex >= 1) || !(h.snapshotTerm >= 1)) throw new Error(`snapshot at index ${h.snapshotIndex}, term ${h.snapshotTerm}: it must cover an entry`);
  if (h.snapshotTerm > h.term) throw new Error(`snapshot term ${h.snapshotTerm} is above the leader's term ${h.term}`);
  if (!(h.totalBytes <= MAX_SNAPSHOT_BYTES)) throw new Error(`snapshot of ${h.totalBytes} bytes is over the limit of ${MAX_SNAPSHOT_BYTES}`);
  if (h.conf) confFromWire(h.conf);
}

/** Whether two chunks' headers describe the same transfer (every field equal). */
export function sameSnapshotHeader(a: WireSnapshotHeader, b: WireSnapshotHeader): boolean {
  return (
    a.from === b.from &&
    a.to === b.to &&
    a.token === b.token &&
    a.term === b.term &&
    a.snapshotIndex === b.snapshotIndex &&
    a.snapshotTerm === b.snapshotTerm &&
    a.totalBytes === b.totalBytes &&
    JSON.stringify(a.conf ?? null) === JSON.stringify(b.conf ?? null)
  );
}

/** The InstallSnapshot a checked header and all of its data make; throws if the data is not all there. */
export function installSnapshotFromWire(h: WireSnapshotHeader, data: Uint8Array): InstallSnapshot {
  checkSnapshotHeader(h);
  if (data.byteLength !== h.totalBytes) throw new Error(`snapshot has ${data.byteLength} of ${h.totalBytes} bytes`);
  const token = decodeToken(h.token);
  const snapshot = { index: h.snapshotIndex, term: h.snapshotTerm, data, ...(h.conf ? { conf: confFromWire(h.conf) } : {}) };
  return { type: 'InstallSnapshot', from: h.from, to: h.to, term: h.term, snapshot, ...(token ? { token } : {}) };
}
