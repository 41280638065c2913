import { describe, expect, it } from 'vitest';
import { estimateEntrySize } from '../../src/raft/log.ts';
import { Raft } from '../../src/raft/raft.ts';
import { seededRng } from '../../src/raft/rng.ts';
import type { AppendEntries, Message } from '../../src/raft/types.ts';
import { SimCluster } from '../sim/cluster.ts';
import { unreliable } from '../sim/network.ts';
import { seeds, withSeed } from '../sim/seed.ts';

// The simulator counts entries with the core's default estimate: data length + 16.
const maxSizePerMsg = 1_000;
const maxInflightBytes = 4_000;
const big = (key: string, n: number) => `${key}=${'v'.repeat(n)}`;

describe('replication bounded by bytes (maxSizePerMsg, maxInflightBytes)', () => {
  it('a follower far behind on big entries catches up in messages under maxSizePerMsg, with bounded windows', () => {
    for (const seed of seeds(7000, 5)) {
      withSeed(seed, () => {
        // The invariants check every AppendEntries against maxSizePerMsg and every window against maxInflightBytes.
        const c = new SimCluster({ seed, size: 3, maxSizePerMsg, maxInflightBytes });
        const leader = c.waitForLeader();
        const f = c.ids.find((id) => id !== leader)!;
        c.one('a=1', 3);
        c.crash(f);
        // 300-700 bytes each: two or three per message at most.
        for (let i = 0; i < 120; i++) c.one(big(`k${i}`, 300 + ((i * 37) % 400)), 2);
        const target = c.raft(leader).status().lastIndex;
        c.restart(f);
        c.runUntil(() => c.nodes.get(f)!.durable.appliedIndex >= target, 20_000, `${f} to catch up to ${target}`);
        expect(c.nodes.get(f)!.durable.kv.get('k119')).toBe('v'.repeat(300 + ((119 * 37) % 400)));
      });
    }
  });

  it('an entry bigger than maxSizePerMsg travels alone, and still catches up', () => {
    for (const seed of seeds(7100, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 3, maxSizePerMsg, maxInflightBytes });
        const leader = c.waitForLeader();
        const f = c.ids.find((id) => id !== leader)!;
        c.crash(f);
        for (let i = 0; i < 10; i++) c.one(big(`huge${i}`, 2_500 + i), 2);
        const target = c.one('small=1', 2);
        c.restart(f);
        c.runUntil(() => c.nodes.get(f)!.durable.appliedIndex >= target, 20_000, `${f} to catch up`);
        expect(c.nodes.get(f)!.durable.kv.get('huge9')).toBe('v'.repeat(2_509));
      });
    }
  });

  it('over an unreliable network, big entries still reach everyone within the bounds', () => {
    for (const seed of seeds(7200, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 5, maxSizePerMsg, maxInflightBytes, persistDelay: [1, 8] });
        c.waitForLeader();
        c.net.faults = unreliable;
        for (let i = 0; i < 30; i++) c.one(big(`u${i}`, 200 + ((i * 91) % 900)), 5, 30_000);
      });
    }
  });

  it('a leader stops sending to a silent follower once the window holds maxInflightBytes', () => {
    const peers = ['a', 'b'];
    const a = new Raft({ id: 'a', peers, electionTick: 10, heartbeatTick: 1, rng: seededRng(1), preVote: false, maxSizePerMsg, maxInflightBytes });
    const out: Message[] = [];
    const pump = () => {
      for (let rd = a.ready(); rd; rd = a.ready()) {
        out.push(...rd.messages);
        out.push(...a.advance(rd));
      }
    };
    a.campaignNow();
    pump();
    a.step({ type: 'RequestVoteRes', from: 'b', to: 'a', term: 1, voteGranted: true, preVote: false });
    pump();
    // b acknowledges the no-op: replicate state.
    a.step({ type: 'AppendEntriesRes', from: 'b', to: 'a', term: 1, success: true, matchIndex: 1, prevLogIndex: 0, conflictIndex: 0, conflictTerm: 0, readSeq: 0, incarnation: 1 });
    pump();
    out.length = 0;
    for (let i = 0; i < 40; i++) {
      a.propose([{ data: big(`k${i}`, 400) }]);
      pump();
    }
    const appends = out.filter((m): m is AppendEntries => m.type === 'AppendEntries' && m.entries.length > 0);
    const sentBytes = appends.reduce((n, m) => n + m.entries.reduce((k, e) => k + estimateEntrySize(e), 0), 0);
    const pr = a.status().progress!.b;
    expect(pr.state).toBe('replicate');
    expect(pr.inflightBytes).toBe(sentBytes);
    // Full once it holds maxInflightBytes: at most one message past it.
    expect(sentBytes).toBeGreaterThanOrEqual(maxInflightBytes);
    expect(sentBytes).toBeLessThan(maxInflightBytes + maxSizePerMsg);
    expect(appends.every((m) => m.entries.reduce((k, e) => k + estimateEntrySize(e), 0) <= maxSizePerMsg)).toBe(true);
    // An acknowledgement frees the window, and the rest follows.
    const last = appends.at(-1)!;
    a.step({ type: 'AppendEntriesRes', from: 'b', to: 'a', term: 1, success: true, matchIndex: last.prevLogIndex + last.entries.length, prevLogIndex: last.prevLogIndex, conflictIndex: 0, conflictTerm: 0, readSeq: 0, incarnation: 1 });
    pump();
    expect(a.status().progress!.b.nextIndex).toBeGreaterThan(last.prevLogIndex + last.entries.length + 1);
  });
});
