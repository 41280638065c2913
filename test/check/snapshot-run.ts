import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AppendEntries, AppendEntriesRes, Entry, InstallSnapshot, InstallSnapshotRes, RequestVote, RequestVoteRes } from '../../src/raft/types.ts';
import type { HistoryEntry } from '../../tracing/history.ts';
import { RaftTrace } from '../../tracing/raft-trace.ts';
import { MemorySink } from '../../tracing/record.ts';
import { formatJsonl, formatShiViz } from '../../tracing/shiviz.ts';
import { Tracer } from '../../tracing/tracer.ts';

export interface SnapshotRun {
  dir: string;
  servers: string[];
  /** The only leader (term 1): it compacts its log after snapshotting index 5. */
  leader: string;
  /** Starts late, after the leader compacted: InstallSnapshot, then SnapshotRestored of 5. */
  installed: string;
  /** Holds entries 1..5 when the leader's InstallSnapshot of 5 arrives: it fast-forwards, no restore. */
  fastForwarded: string;
  /** The client whose put is index 2, which `installed` never applies. */
  client: string;
}

/**
 * How `fastForwarded` restarts after applying 6: `below` loads its own snapshot of 5 (at or
 * below its last traced Apply, so it replays 6 silently); `above` lost the trace of its last
 * Apply (6) and of its snapshot of 6 in the crash, so its restore of 6 is above the last
 * traced Apply. Either way its next traced Apply is 7.
 */
export type RestartKind = 'below' | 'above';

/**
 * A scripted traced run with log compaction (Raft §7), recorded through the real Tracer and
 * RaftTrace with the bodies the core and the driver record (the server does not snapshot
 * yet, so no real run can produce one). 3 servers, one term:
 *
 * 1. server0 is elected with server1's vote (server2 is down); client "cat" puts k (index
 *    2) through server0; entries 1..5 replicate to server1; server0 commits and applies
 *    them and takes a snapshot of 5 (SnapshotTaken), compacting its log.
 * 2. server0 sends server1 its snapshot of 5 (its progress of server1 was reset, say):
 *    server1 already holds entry 5, so it fast-forwards (success, no restore) and applies
 *    1..5 from its own log; it snapshots 5 too.
 * 3. server2 starts with an empty log; server0 sends it the snapshot of 5; server2 answers
 *    success and restores it (SnapshotRestored of 5): it never applies 1..5.
 * 4. Index 6 replicates to both and is applied everywhere (from 6 on server2).
 * 5. server1 restarts (see RestartKind), restoring its own snapshot at start.
 * 6. Index 7 replicates and is applied everywhere; server0 snapshots 7.
 *
 * Writes trace.jsonl, shiviz.log, history.json and meta.json into `dir`.
 */
export function produceSnapshotRun(dir: string, restart: RestartKind = 'below'): SnapshotRun {
  const s = new Script();
  const [L, F, N] = ['server0', 'server1', 'server2'];
  const client = 'cat';
  s.startServer(L);
  s.startServer(F);
  s.vote(L, F, 1);
  s.raft(L).leaderElected(L, 1);

  const cat = s.tracer(client);
  cat.record('KvslibStart', { clientId: client });
  cat.record('NewServerConnection', { clientId: client, serverId: L, serverAddr: addr(L) });
  const traceId = `${client}:1`;
  const putBody = { clientId: client, opId: 1, key: 'k', value: 'v' };
  cat.record('PutStart', putBody, traceId);
  const sendToken = cat.send('PutSend', { ...putBody, serverId: L, attempt: 0 }, traceId);
  const serverBody = { clientId: client, opId: 1, key: 'k', op: 'put', value: 'v' };
  s.tracer(L).receive(sendToken, 'PutRecv', serverBody, traceId);
  s.tracer(L).record('RaftPutReq', serverBody, traceId);

  const log: Entry[] = [
    { index: 1, term: 1, kind: 'noop', data: '' },
    { index: 2, term: 1, kind: 'command', data: command(2, 'k', 'v', traceId), traceId },
    ...[3, 4, 5, 6, 7].map((i): Entry => ({ index: i, term: 1, kind: 'command', data: command(i, `x${i}`, String(i)) })),
  ];
  const upTo = (i: number) => log.slice(0, i);
  s.append(L, F, 0, log.slice(0, 5), 0);
  for (const e of upTo(5)) s.raft(L).commit(e);
  for (const e of upTo(5)) s.raft(L).apply(e, e.index === 2 ? { clientId: client, opId: 1 } : {});
  // A put answers with the value it wrote.
  const resultToken = s.tracer(L).send('PutResult', { ...serverBody, value: 'v' }, traceId);
  cat.receive(resultToken, 'PutResultRecvd', { ...putBody, value: 'v' }, traceId);
  s.raft(L).snapshotTaken({ index: 5, term: 1 });

  // Fast-forward: F's log holds entry 5 of term 1; it commits to 5 and applies from its log.
  s.installSnapshot(L, F, { index: 5, term: 1 }, () => {
    for (const e of upTo(5)) s.raft(F).apply(e, e.index === 2 ? { clientId: client, opId: 1 } : {});
  });
  s.raft(F).snapshotTaken({ index: 5, term: 1 });

  // Install: N's log is empty and the leader's starts after 5.
  s.startServer(N);
  s.installSnapshot(L, N, { index: 5, term: 1 }, () => s.raft(N).snapshotRestored({ index: 5, term: 1 }));

  for (const to of [F, N]) s.append(L, to, 5, [log[5]], 5);
  s.raft(L).commit(log[5]);
  s.raft(L).apply(log[5]);
  for (const to of [F, N]) s.append(L, to, 6, [], 6);
  s.raft(N).apply(log[5]);
  if (restart === 'below') {
    s.raft(F).apply(log[5]);
    s.raft(F).snapshotTaken({ index: 6, term: 1 });
    // Restart loading its older snapshot of 5: it replays 6 from its log, untraced.
    s.startServer(F, { restore: { index: 5, term: 1 } });
  } else {
    // The crash took the records of Apply 6 and SnapshotTaken 6 with it; the snapshot is on disk.
    s.startServer(F, { restore: { index: 6, term: 1 } });
  }

  for (const to of [F, N]) s.append(L, to, 6, [log[6]], 6);
  s.raft(L).commit(log[6]);
  s.raft(L).apply(log[6]);
  for (const to of [F, N]) s.append(L, to, 7, [], 7);
  s.raft(F).apply(log[6]);
  s.raft(N).apply(log[6]);
  s.raft(L).snapshotTaken({ index: 7, term: 1 });
  cat.record('KvslibStop', { clientId: client });

  const history: HistoryEntry[] = [{ clientId: client, opId: 1, op: { type: 'put', key: 'k', value: 'v' }, call: 1000, return: 1020, output: { value: 'v' } }];
  const servers = [L, F, N];
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'trace.jsonl'), formatJsonl(s.sink.records));
  writeFileSync(path.join(dir, 'shiviz.log'), formatShiViz(s.sink.records));
  writeFileSync(path.join(dir, 'history.json'), JSON.stringify(history, null, 1));
  writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ servers, scenario: `check-snapshot-run-${restart}` }));
  return { dir, servers, leader: L, installed: N, fastForwarded: F, client };
}

function addr(id: string): string {
  return `127.0.0.1:${7000 + Number(id.replace(/\D/g, ''))}`;
}

/** An encoded command, as the log would hold it (the checkers only compare them). */
function command(index: number, key: string, value: string, traceId?: string): string {
  const [clientId, opId] = traceId ? traceId.split(':') : ['writer', String(index)];
  return JSON.stringify({ clientId, opId: Number(opId), firstUnacked: Number(opId), ts: index, op: { type: 'put', key, value } });
}

/** Hosts with their tracers, messages between them built as the core builds them. */
class Script {
  readonly sink = new MemorySink();
  private readonly tracers = new Map<string, Tracer>();
  private readonly raftTraces = new Map<string, RaftTrace>();

  tracer(host: string): Tracer {
    let t = this.tracers.get(host);
    if (!t) this.tracers.set(host, (t = new Tracer(host, this.sink)));
    return t;
  }

  raft(id: string): RaftTrace {
    return this.raftTraces.get(id)!;
  }

  /** A process life: ServerStart, RaftStart, an optional restore of its own snapshot, ServerListening. The clock continues across lives. */
  startServer(id: string, opts: { restore?: { index: number; term: number } } = {}): void {
    const t = this.tracer(id);
    t.record('ServerStart', { serverId: id });
    const rt = new RaftTrace(t, false);
    this.raftTraces.set(id, rt);
    rt.raftStart(id);
    if (opts.restore) rt.snapshotRestored(opts.restore);
    t.record('ServerListening', { serverId: id, addr: addr(id) });
  }

  vote(candidate: string, voter: string, term: number): void {
    const m: RequestVote = { type: 'RequestVote', from: candidate, to: voter, term, lastLogIndex: 0, lastLogTerm: 0, preVote: false };
    m.token = this.raft(candidate).requestVote(m);
    this.raft(voter).requestVoteRecv(m);
    const res: RequestVoteRes = { type: 'RequestVoteRes', from: voter, to: candidate, term, voteGranted: true, preVote: false };
    res.token = this.raft(voter).requestVoteRes(res);
    this.raft(candidate).requestVoteResRecv(res);
  }

  /** One AppendEntries (term 1) and its successful answer, both received. */
  append(leader: string, to: string, prevLogIndex: number, entries: Entry[], leaderCommit: number): void {
    const m: AppendEntries = { type: 'AppendEntries', from: leader, to, term: 1, prevLogIndex, prevLogTerm: prevLogIndex > 0 ? 1 : 0, entries, leaderCommit, readSeq: 0 };
    m.token = this.raft(leader).appendEntries(m, true);
    this.raft(to).appendEntriesRecv(m);
    const res: AppendEntriesRes = { type: 'AppendEntriesRes', from: to, to: leader, term: 1, success: true, matchIndex: prevLogIndex + entries.length, prevLogIndex, conflictIndex: 0, conflictTerm: 0, readSeq: 0 };
    res.token = this.raft(to).appendEntriesRes(res, m);
    this.raft(leader).appendEntriesResRecv(res);
  }

  /**
   * The leader's InstallSnapshot (term 1) and the follower's successful answer. The core
   * records the answer when it decides; `thenOnFollower` is what the follower's driver does
   * before the answer reaches the leader (restore, or apply what it now knows committed).
   */
  installSnapshot(leader: string, to: string, snapshot: { index: number; term: number }, thenOnFollower: () => void): void {
    const m: InstallSnapshot = { type: 'InstallSnapshot', from: leader, to, term: 1, snapshot: { ...snapshot, data: new Uint8Array() } };
    m.token = this.raft(leader).installSnapshot(m);
    this.raft(to).installSnapshotRecv(m);
    const res: InstallSnapshotRes = { type: 'InstallSnapshotRes', from: to, to: leader, term: 1, snapshotIndex: snapshot.index, success: true, matchIndex: snapshot.index };
    res.token = this.raft(to).installSnapshotRes(res);
    thenOnFollower();
    this.raft(leader).installSnapshotResRecv(res);
  }
}
