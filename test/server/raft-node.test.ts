import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../src/kv/command.ts';
import type { AppendEntries, Entry, Message, RequestVote } from '../../src/raft/types.ts';
import { EntryTooLargeError } from '../../src/server/errors.ts';
import { RaftNode, type Timing } from '../../src/server/raft-node.ts';
import { RaftStorage } from '../../src/storage/raft-storage.ts';
import { tempDir } from '../storage/helpers.ts';
import { ControlledStorage, SendLog, settle, waitFor } from './controlled-storage.ts';

/**
 * RaftNode's Ready loop against a storage whose saves the test settles by hand: slow,
 * failing, and lost to a crash between write and fsync. The rule under test: a granted
 * vote, a vote request and an AppendEntries success leave through `send` only once the
 * save they depend on has resolved, and nothing depends on a save that did not.
 */

// 5 ms ticks, an election timeout of 50-100 ticks: long enough that a save the test holds
// back for a while does not cost the leader its lease (a leader blocked on its disk sends
// no heartbeats), short enough that an election takes well under a second.
const timing: Timing = { tickMs: 5, electionTick: 50, heartbeatTick: 2 };
const peers = ['a', 'b', 'c'];
const nodes: RaftNode[] = [];
/** onFatal calls no test asked to see: each is a failure. */
let unexpectedFatal: Error[] = [];

afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
  const fatal = unexpectedFatal;
  unexpectedFatal = [];
  expect(fatal.map((e) => e.stack)).toEqual([]);
});

function makeNode(id: string, storage: ControlledStorage, log: SendLog, fatal: Error[] = unexpectedFatal): RaftNode {
  const n = new RaftNode({ id, peers, storage: storage.asStorage(), timing, send: log.send, onFatal: (err) => fatal.push(err) });
  nodes.push(n);
  return n;
}

const noop = (index: number, term: number): Entry => ({ index, term, kind: 'noop', data: '' });
const put = (index: number, term: number, key: string, value: string): Entry => ({
  index,
  term,
  kind: 'command',
  data: encodeCommand({ clientId: 'cl', opId: index, firstUnacked: 1, ts: 1, op: { type: 'put', key, value } }),
});

function append(from: string, to: string, term: number, prevLogIndex: number, prevLogTerm: number, entries: Entry[], leaderCommit = 0): AppendEntries {
  return { type: 'AppendEntries', from, to, term, prevLogIndex, prevLogTerm, entries, leaderCommit, readSeq: 0 };
}

function vote(from: string, to: string, term: number, lastLogIndex = 0, lastLogTerm = 0): RequestVote {
  return { type: 'RequestVote', from, to, term, lastLogIndex, lastLogTerm, preVote: false };
}

const granted = (log: SendLog, term: number) => log.of('RequestVoteRes').filter((m) => m.voteGranted && !m.preVote && m.term === term);

describe('RaftNode: nothing leaves before the save it depends on', () => {
  it('a granted vote waits for a slow save of the hard state that records it', async () => {
    const storage = new ControlledStorage({ hardState: { term: 1, votedFor: null, commitIndex: 0 } });
    const log = new SendLog(() => storage);
    const b = makeNode('b', storage, log);
    b.step([vote('a', 'b', 2)]);
    await waitFor(() => storage.saves.length === 1, 'the save');
    expect(storage.saves[0]).toMatchObject({ hardState: { term: 2, votedFor: 'a', commitIndex: 0 }, entries: [] });
    await settle();
    expect(log.messages).toEqual([]);
    storage.resolveNext();
    await waitFor(() => log.messages.length > 0, 'the vote');
    expect(log.messages).toMatchObject([{ type: 'RequestVoteRes', from: 'b', to: 'a', term: 2, voteGranted: true }]);
    expect(log.violations).toEqual([]);
  });

  it('a new vote within a term already on disk is written, and before it is sent', async () => {
    // Term 5 is durable with no vote: a candidate of term 5 asks.
    const storage = new ControlledStorage({ hardState: { term: 5, votedFor: null, commitIndex: 0 } });
    const log = new SendLog(() => storage);
    const b = makeNode('b', storage, log);
    const order: string[] = [];
    storage.onChange(() => order.push(`save ${JSON.stringify(storage.saves.at(-1)?.hardState)} ${storage.saves.at(-1)?.state}`));
    log.onSend(() => order.push(`send ${log.messages.at(-1)!.type}`));
    b.step([vote('a', 'b', 5)]);
    await waitFor(() => storage.saves.length > 0 || log.messages.length > 0, 'a save or a send');
    expect(storage.saves.map((s) => s.hardState)).toEqual([{ term: 5, votedFor: 'a', commitIndex: 0 }]);
    expect(log.messages).toEqual([]);
    storage.resolveNext();
    await waitFor(() => log.messages.length > 0, 'the vote');
    expect(granted(log, 5)).toMatchObject([{ to: 'a' }]);
    expect(order).toEqual([
      'save {"term":5,"votedFor":"a","commitIndex":0} pending',
      'save {"term":5,"votedFor":"a","commitIndex":0} resolved',
      'send RequestVoteRes',
    ]);
    expect(log.violations).toEqual([]);
    // A restart finds the vote, and refuses another candidate in term 5.
    const restarted = new ControlledStorage(storage.durable);
    const log2 = new SendLog(() => restarted);
    const again = makeNode('b', restarted, log2);
    again.step([vote('c', 'b', 5)]);
    await waitFor(() => log2.messages.length > 0, 'the answer to c');
    expect(log2.messages).toMatchObject([{ type: 'RequestVoteRes', to: 'c', voteGranted: false }]);
  });

  it('a change of the commit index alone costs no save', async () => {
    const storage = new ControlledStorage({ hardState: { term: 1, votedFor: 'a', commitIndex: 0 }, entries: [noop(1, 1)] });
    const log = new SendLog(() => storage);
    const b = makeNode('b', storage, log);
    b.step([append('a', 'b', 1, 1, 1, [], 1)]);
    await waitFor(() => log.messages.length > 0, 'the heartbeat reply');
    expect(storage.saves).toEqual([]);
    expect(log.messages).toMatchObject([{ type: 'AppendEntriesRes', success: true, matchIndex: 1 }]);
  });

  it('an AppendEntries success waits for its entries to be durable; saves overlap one at a time, in order', async () => {
    const storage = new ControlledStorage({ hardState: { term: 1, votedFor: 'a', commitIndex: 0 } });
    const log = new SendLog(() => storage);
    const b = makeNode('b', storage, log);
    b.step([append('a', 'b', 1, 0, 0, [noop(1, 1), put(2, 1, 'x', '1')])]);
    await waitFor(() => storage.saves.length === 1, 'the first save');
    expect(storage.saves[0].entries.map((e) => e.index)).toEqual([1, 2]);
    // More arrives while the first write is under way.
    b.step([append('a', 'b', 1, 2, 1, [put(3, 1, 'x', '2')], 2)]);
    await settle();
    expect(log.messages).toEqual([]);
    expect(storage.pendingCount).toBe(1);
    storage.resolveNext();
    await waitFor(() => storage.saves.length === 2, 'the second save');
    expect(log.of('AppendEntriesRes')).toMatchObject([{ success: true, matchIndex: 2 }]);
    expect(storage.saves[1].entries.map((e) => e.index)).toEqual([3]);
    await settle();
    expect(log.of('AppendEntriesRes')).toHaveLength(1);
    storage.resolveNext();
    await waitFor(() => log.of('AppendEntriesRes').length === 2, 'the second reply');
    expect(log.of('AppendEntriesRes')[1]).toMatchObject({ success: true, matchIndex: 3 });
    // Applied up to the leader's commit index (2), from durable entries only.
    await waitFor(() => b.kv.lastApplied === 2, 'entry 2 to be applied');
    expect(log.violations).toEqual([]);
  });

  it('a candidate asks for votes only once its own vote is durable', async () => {
    const storage = new ControlledStorage({ hardState: { term: 3, votedFor: null, commitIndex: 0 } });
    const log = new SendLog(() => storage);
    const a = makeNode('a', storage, log);
    a.start();
    // Pre-vote first: it changes nothing durable, so it needs no save.
    await waitFor(() => log.of('RequestVote').length >= 2, 'the pre-vote requests');
    expect(log.of('RequestVote').slice(0, 2)).toMatchObject([
      { to: 'b', term: 4, preVote: true },
      { to: 'c', term: 4, preVote: true },
    ]);
    expect(storage.saves).toEqual([]);
    a.step([{ type: 'RequestVoteRes', from: 'b', to: 'a', term: 4, voteGranted: true, preVote: true }]);
    await waitFor(() => storage.saves.length === 1, 'the candidate to save its vote');
    expect(storage.saves[0].hardState).toEqual({ term: 4, votedFor: 'a', commitIndex: 0 });
    await settle();
    expect(log.of('RequestVote').filter((m) => !m.preVote)).toEqual([]);
    storage.resolveNext();
    await waitFor(() => log.of('RequestVote').some((m) => !m.preVote), 'the vote requests');
    expect(log.violations).toEqual([]);
  });
});

/**
 * Peers b and c as the test plays them: they grant every vote and acknowledge every
 * append (unless silenced), each reply arriving on a later macrotask.
 */
function playPeers(node: RaftNode, log: SendLog, silent: Set<string> = new Set()): void {
  let seen = 0;
  log.onSend(() => {
    for (; seen < log.messages.length; seen++) {
      const m = log.messages[seen];
      if (silent.has(m.to)) continue;
      let reply: Message | null = null;
      if (m.type === 'RequestVote') reply = { type: 'RequestVoteRes', from: m.to, to: m.from, term: m.term, voteGranted: true, preVote: m.preVote };
      if (m.type === 'AppendEntries') {
        reply = { type: 'AppendEntriesRes', from: m.to, to: m.from, term: m.term, success: true, matchIndex: m.prevLogIndex + m.entries.length, prevLogIndex: m.prevLogIndex, conflictIndex: 0, conflictTerm: 0, readSeq: m.readSeq };
      }
      if (reply) {
        const r = reply;
        setImmediate(() => node.step([r]));
      }
    }
  });
}

async function electedLeader(storage: ControlledStorage, log: SendLog, fatal: Error[] = [], silent = new Set<string>()): Promise<RaftNode> {
  const a = makeNode('a', storage, log, fatal);
  playPeers(a, log, silent);
  storage.auto = true;
  a.start();
  await waitFor(() => a.isLeader, 'a to lead');
  // Its no-op committed and applied: reads can be served from here.
  await waitFor(() => a.kv.lastApplied >= 1, 'the no-op to apply');
  return a;
}

const proposal = (opId: number, key: string, value: string) => encodeCommand({ clientId: 'cl', opId, firstUnacked: opId, ts: Date.now(), op: { type: 'put', key, value } });

describe('RaftNode as leader with a slow disk', () => {
  it('the leader streams appends before its own save, but answers no client before that save resolves', async () => {
    const storage = new ControlledStorage();
    const log = new SendLog(() => storage);
    const a = await electedLeader(storage, log);
    storage.auto = false;
    let answered = false;
    const done = a.propose(proposal(1, 'x', '1')).then((r) => {
      answered = true;
      return r;
    });
    await waitFor(() => storage.saves.some((s) => s.state === 'pending' && s.entries.length > 0), 'the leader to write the entry');
    const index = storage.saves.at(-1)!.entries[0].index;
    // The followers got it and acknowledged it already: a quorum without the leader.
    await waitFor(() => log.of('AppendEntries').some((m) => m.entries.some((e) => e.index === index)), 'the append');
    await settle(50);
    expect(answered).toBe(false);
    storage.resolveAll();
    storage.auto = true;
    expect(await done).toMatchObject({ index, result: { ok: true } });
    expect(log.violations).toEqual([]);
  });
});

describe('RaftNode when a save fails', () => {
  it('a follower whose save fails goes fatal and acknowledges nothing, then or later', async () => {
    const storage = new ControlledStorage({ hardState: { term: 1, votedFor: 'a', commitIndex: 0 } });
    const log = new SendLog(() => storage);
    const fatal: Error[] = [];
    const b = makeNode('b', storage, log, fatal);
    b.step([append('a', 'b', 1, 0, 0, [noop(1, 1), put(2, 1, 'x', '1')], 0)]);
    await waitFor(() => storage.saves.length === 1, 'the save');
    storage.rejectNext(new Error('disk on fire'));
    await waitFor(() => fatal.length > 0, 'onFatal');
    expect(fatal[0].message).toBe('disk on fire');
    // It keeps quiet from now on, whatever arrives.
    b.step([append('a', 'b', 1, 0, 0, [noop(1, 1)], 0), vote('c', 'b', 2)]);
    await settle();
    expect(log.messages).toEqual([]);
    expect(storage.saves).toHaveLength(1);
  });

  it('a leader whose save fails goes fatal: proposals and reads waiting on it are rejected, none answered', async () => {
    const storage = new ControlledStorage();
    const log = new SendLog(() => storage);
    const fatal: Error[] = [];
    // c never answers, so a read needs b's acknowledgement, which the test holds back by silencing b too.
    const silent = new Set<string>();
    const a = await electedLeader(storage, log, fatal, silent);
    storage.auto = false;
    silent.add('b').add('c');
    const writes = [a.propose(proposal(1, 'x', '1')), a.propose(proposal(2, 'y', '2'))].map((p) => p.then(() => 'answered', (e: Error) => e.message));
    const read = a.read({ type: 'get', key: 'x' }).then(() => 'answered', (e: Error) => e.message);
    await waitFor(() => storage.pendingCount > 0, 'the write');
    storage.rejectNext(new Error('EIO: fsync failed'));
    expect(await Promise.all(writes)).toEqual(['EIO: fsync failed', 'EIO: fsync failed']);
    expect(await read).toBe('EIO: fsync failed');
    expect(fatal.map((e) => e.message)).toEqual(['EIO: fsync failed']);
    // New work is refused too; the ticker is stopped, so it sends nothing more.
    const sentAtFailure = log.messages.length;
    await settle(50);
    expect(log.messages.length).toBe(sentAtFailure);
    expect(log.violations).toEqual([]);
  });
});

describe('RaftNode across a crash between write and fsync', () => {
  it('a vote written but not fsynced was never sent: after the restart the node may vote again in that term, and only one vote ever left', async () => {
    let storage = new ControlledStorage({ hardState: { term: 1, votedFor: null, commitIndex: 0 } });
    const log = new SendLog(() => storage);
    const first = makeNode('b', storage, log);
    first.step([vote('a', 'b', 2)]);
    await waitFor(() => storage.saves.length === 1, 'the write of the vote');
    expect(storage.written.hardState).toEqual({ term: 2, votedFor: 'a', commitIndex: 0 });
    // The process dies before the fsync returns: the write is lost.
    await first.stop();
    const dead = storage;
    storage = storage.crash();
    // Even if the old process's fsync "returns" now, the dead node sends nothing.
    dead.resolveNext();
    await settle();
    expect(log.messages).toEqual([]);

    const second = makeNode('b', storage, log);
    second.step([vote('c', 'b', 2)]);
    await waitFor(() => storage.saves.length === 1, 'the second write');
    storage.resolveNext();
    await waitFor(() => log.messages.length > 0, 'the vote for c');
    // One vote in term 2 left b, for c; a never heard one.
    expect(granted(log, 2).map((m) => m.to)).toEqual(['c']);
    expect(log.violations).toEqual([]);
  });

  it('entries written but not fsynced were never acknowledged; the restarted node acknowledges only what it holds', async () => {
    let storage = new ControlledStorage({ hardState: { term: 1, votedFor: 'a', commitIndex: 0 }, entries: [noop(1, 1)] });
    const log = new SendLog(() => storage);
    const first = makeNode('b', storage, log);
    first.step([append('a', 'b', 1, 1, 1, [put(2, 1, 'x', '1'), put(3, 1, 'x', '2')], 1)]);
    await waitFor(() => storage.saves.length === 1, 'the write');
    expect(storage.written.entries).toHaveLength(3);
    await settle();
    await first.stop();
    storage = storage.crash();
    expect(log.of('AppendEntriesRes')).toEqual([]);

    const second = makeNode('b', storage, log);
    // The leader, never having heard back, sends the same again; this time the disk keeps it.
    storage.auto = true;
    second.step([append('a', 'b', 1, 1, 1, [put(2, 1, 'x', '1'), put(3, 1, 'x', '2')], 1)]);
    await waitFor(() => log.of('AppendEntriesRes').length === 1, 'the acknowledgement');
    expect(log.of('AppendEntriesRes')).toMatchObject([{ from: 'b', success: true, matchIndex: 3 }]);
    expect(log.violations).toEqual([]);
  });

  it('a hard state and entries saved together: after a crash before fsync neither counts, and the node answers from the older state', async () => {
    let storage = new ControlledStorage({ hardState: { term: 1, votedFor: 'a', commitIndex: 0 }, entries: [noop(1, 1)] });
    const log = new SendLog(() => storage);
    const first = makeNode('b', storage, log);
    // A new leader of term 2 sends its no-op: new term (hard state) and a new entry in one save.
    first.step([append('c', 'b', 2, 1, 1, [noop(2, 2)], 1)]);
    await waitFor(() => storage.saves.length === 1, 'the write');
    expect(storage.saves[0]).toMatchObject({ hardState: { term: 2, votedFor: null }, entries: [{ index: 2, term: 2 }] });
    await first.stop();
    storage = storage.crash();
    const second = makeNode('b', storage, log);
    storage.auto = true;
    // Back in term 1 with its old vote for a, it would vote for c in term 2 now: that is safe, since it never said otherwise.
    second.step([vote('c', 'b', 2, 1, 1)]);
    await waitFor(() => log.messages.length > 0, 'the vote');
    expect(log.messages).toMatchObject([{ type: 'RequestVoteRes', to: 'c', term: 2, voteGranted: true }]);
    expect(log.violations).toEqual([]);
  });
});

describe('RaftNode.propose', () => {
  it('refuses an entry bigger than one message may carry, with both sizes, and proposes nothing', async () => {
    const storage = await RaftStorage.open(await tempDir());
    const node = new RaftNode({ id: 'solo', peers: ['solo'], storage, timing: { tickMs: 5, electionTick: 4, heartbeatTick: 1 }, send: () => undefined, maxEntryBytes: 10_000, onFatal: (e) => { throw e; } });
    node.start();
    try {
      await new Promise<void>((resolve) => {
        const check = () => (node.isLeader ? resolve() : setTimeout(check, 5));
        check();
      });
      const command = (value: string) => encodeCommand({ clientId: 'c', opId: 1, firstUnacked: 1, ts: 1, op: { type: 'put', key: 'k', value } });
      const before = node.raft.status().lastIndex;
      // 2,000 NULs are 12,000 bytes of JSON: over the limit, though 2,000 characters.
      const err = await node.propose(command('\u0000'.repeat(2_000))).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(EntryTooLargeError);
      expect((err as EntryTooLargeError).limit).toBe(10_000);
      expect((err as EntryTooLargeError).bytes).toBeGreaterThan(12_000);
      expect((err as Error).message).toMatch(/^the command is [\d,]+ bytes once encoded for the log; the limit is 10,000 bytes/);
      expect(node.raft.status().lastIndex).toBe(before);
      const ok = await node.propose(command('x'.repeat(2_000)));
      expect(ok?.result).toEqual({ ok: true, value: 'x'.repeat(2_000) });
    } finally {
      await node.stop();
      await storage.close();
    }
  });
});
