import { describe, expect, it } from 'vitest';
import { seededRng } from '../../src/raft/rng.ts';
import { SimCluster, type SimOptions } from '../sim/cluster.ts';
import { reliable, unreliable } from '../sim/network.ts';
import { decodeSnapshotData } from '../sim/node.ts';
import { seeds, withSeed } from '../sim/seed.ts';
import { churn, crashStorm, partitionStorm } from '../sim/storms.ts';
import { checkShiVizLogFor } from './trace-helpers.ts';

/**
 * Log compaction and InstallSnapshot (Raft §7) on the simulated network. Nodes snapshot
 * often (every few entries) and keep a short tail; the state machine lives in memory, so
 * a restart rebuilds it from the node's snapshot. The invariants check every step,
 * snapshots included (a snapshot must stand for exactly what others applied up to it).
 */
const compacting: Partial<SimOptions> = { snapshotEvery: 5, keepTail: 2, volatileStateMachine: true };

function sameState(c: SimCluster): void {
  const [first, ...rest] = c.ids.map((id) => c.nodes.get(id)!.durable);
  for (const d of rest) {
    expect(d.appliedIndex).toBe(first.appliedIndex);
    expect(d.digest).toBe(first.digest);
    expect([...d.kv].sort()).toEqual([...first.kv].sort());
  }
}

/** Waits until every node applied `index` (agreement on it alone does not wait for laggards). */
function allApplied(c: SimCluster, index: number, maxMs = 10_000): void {
  c.runUntil(() => c.ids.every((id) => c.nodes.get(id)!.durable.appliedIndex >= index), maxMs, `every node to apply ${index}`);
}

const installs = (c: SimCluster) => [...c.snapshotsInstalled.values()].reduce((a, b) => a + b, 0);

describe('log compaction and snapshots (simulated)', () => {
  it('compaction happens on every node and the log stays bounded; followers that keep up never need a snapshot', () => {
    for (const seed of seeds(7000, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 3, persistDelay: [0, 3], ...compacting, snapshotEvery: 10, keepTail: 3 });
        c.waitForLeader();
        let last = 0;
        for (let i = 0; i < 100; i++) {
          last = c.one(`k${i % 17}=${i}`, 3);
          for (const id of c.ids) {
            const st = c.raft(id).status();
            // At most a snapshot's worth, the tail, and what is not yet applied.
            expect(st.lastIndex - st.snapshotIndex).toBeLessThanOrEqual(10 + 3 + (st.lastIndex - st.appliedIndex));
            expect(c.nodes.get(id)!.durable.entries.length).toBeLessThanOrEqual(10 + 3 + (st.lastIndex - st.appliedIndex));
          }
        }
        allApplied(c, last);
        for (const id of c.ids) {
          expect(c.snapshotsTaken.get(id)).toBeGreaterThanOrEqual(9);
          expect(c.raft(id).status().firstIndex).toBeGreaterThan(80);
        }
        expect(c.sent.get('InstallSnapshot') ?? 0).toBe(0);
        sameState(c);
      });
    }
  });

  it('a follower that was down while the others compacted past it receives a snapshot, then entries', () => {
    for (const seed of seeds(7100, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 3, persistDelay: [0, 3], ...compacting });
        const leader = c.waitForLeader();
        for (let i = 0; i < 5; i++) c.one(`a${i}=${i}`, 3);
        const f = c.ids.find((id) => id !== leader)!;
        c.crash(f);
        const lastBefore = c.nodes.get(f)!.durable.entries.at(-1)?.index ?? 0;
        for (let i = 0; i < 40; i++) c.one(`b${i}=${i}`, 2);
        // The others' logs start past everything f holds.
        for (const id of c.ids.filter((x) => x !== f)) expect(c.raft(id).status().firstIndex).toBeGreaterThan(lastBefore + 1);
        c.restart(f);
        const idx = c.one('after=1', 3);
        allApplied(c, idx);
        expect(c.snapshotsInstalled.get(f)).toBeGreaterThanOrEqual(1);
        // Replication resumed from the log after the snapshot.
        const next = c.one('next=2', 3);
        allApplied(c, next);
        expect(c.nodes.get(f)!.durable.kv.get('b39')).toBe('39');
        expect(c.nodes.get(f)!.durable.kv.get('next')).toBe('2');
        sameState(c);
      });
    }
  });

  it('a partitioned follower (up all along, with a longer stale log of its own) is caught up by a snapshot', () => {
    for (const seed of seeds(7200, 6)) {
      withSeed(seed, (s) => {
        const c = new SimCluster({ seed: s, size: 5, persistDelay: [1, 10], ...compacting });
        const leader = c.waitForLeader();
        c.one('a=1', 5);
        // The old leader is cut off with more entries than the others will commit, which nobody else will ever hold.
        c.isolate(leader);
        for (let i = 0; i < 50; i++) c.raft(leader).propose([{ data: `lost${i}=x` }]);
        c.run(50);
        for (let i = 0; i < 30; i++) c.one(`b${i}=${i}`, 4);
        const stale = c.raft(leader).status().lastIndex;
        c.reconnect(leader);
        if (s % 2 === 1) {
          // It stops after writing the snapshot, beside a log that contradicts it there.
          const node = c.nodes.get(leader)!;
          c.runUntil(() => node.persisting?.snapshot != null, 5_000, 'the snapshot write');
          expect(node.durable.entries.at(-1)!.index).toBe(stale);
          c.crash(leader);
          c.restart(leader);
          expect(c.raft(leader).status()).toMatchObject({ snapshotIndex: node.durable.snapshot!.index, lastIndex: node.durable.snapshot!.index });
        }
        const idx = c.one('after=1', 5);
        allApplied(c, idx);
        expect(c.snapshotsInstalled.get(leader)).toBeGreaterThanOrEqual(1);
        expect(c.nodes.get(leader)!.durable.kv.has('lost0')).toBe(false);
        sameState(c);
      });
    }
  });

  it('installs over an unreliable network (drops, duplicates, reordering)', () => {
    let total = 0;
    for (const seed of seeds(7300, 5)) {
      withSeed(seed, (s) => {
        const c = new SimCluster({ seed: s, size: 5, persistDelay: [0, 3], ...compacting });
        c.net.faults = unreliable;
        const rng = seededRng(s * 11 + 7);
        c.waitForLeader(10_000);
        for (let round = 0; round < 6; round++) {
          const victim = c.ids[rng.int(0, 5)];
          c.isolate(victim);
          for (let i = 0; i < 12; i++) c.one(`r${round}k${i}=${i}`, 4, 20_000);
          c.reconnect(victim);
          c.one(`r${round}=back`, 5, 20_000);
        }
        c.net.faults = reliable;
        const idx = c.one('end=1', 5, 20_000);
        allApplied(c, idx, 20_000);
        sameState(c);
        total += installs(c);
      });
    }
    expect(total).toBeGreaterThan(0);
  });

  it('heartbeats keep flowing while a snapshot takes longer than an election timeout to arrive', () => {
    for (const seed of seeds(7400, 5)) {
      withSeed(seed, () => {
        // No pre-vote: a follower that heard nothing for an election timeout would bump the term.
        const c = new SimCluster({ seed, size: 3, persistDelay: [0, 3], ...compacting, preVote: false, snapshotTransfer: [400, 600] });
        const leader = c.waitForLeader();
        const f = c.ids.find((id) => id !== leader)!;
        c.crash(f);
        for (let i = 0; i < 20; i++) c.one(`b${i}=${i}`, 2);
        const term = c.raft(leader).status().term;
        c.restart(f);
        c.runUntil(() => (c.sent.get('InstallSnapshot') ?? 0) > 0, 2_000, 'the snapshot to go out');
        expect(c.raft(leader).status().progress![f].state).toBe('snapshot');
        c.runUntil(() => (c.snapshotsInstalled.get(f) ?? 0) > 0, 5_000, 'the install');
        expect(c.raft(f).status().term).toBe(term);
        expect(c.raft(leader).status()).toMatchObject({ role: 'leader', term });
        const idx = c.one('after=1', 3);
        allApplied(c, idx);
        sameState(c);
      });
    }
  });

  it('a follower that crashes as it installs a snapshot (before, during or right after the write) recovers', () => {
    for (const seed of seeds(7500, 9)) {
      withSeed(seed, (s) => {
        const c = new SimCluster({ seed: s, size: 3, persistDelay: [5, 20], ...compacting });
        const leader = c.waitForLeader();
        const f = c.ids.find((id) => id !== leader)!;
        c.one('a=1', 3);
        c.crash(f);
        for (let i = 0; i < 20; i++) c.one(`b${i}=${i}`, 2);
        const node = c.nodes.get(f)!;
        const before = node.durable.snapshot?.index ?? 0;
        c.restart(f);
        const mode = s % 3;
        if (mode === 0) {
          // The core took the snapshot; the disk may not have it yet.
          c.runUntil(() => c.raft(f).status().snapshotIndex > before, 5_000, 'the install');
        } else if (mode === 1) {
          // The snapshot is written, the log it replaces not yet discarded.
          c.runUntil(() => node.persisting?.snapshot != null, 5_000, 'the snapshot write');
          expect(node.durable.snapshot).toBe(node.persisting!.snapshot);
          expect(node.durable.entries.length).toBeGreaterThan(0);
        } else {
          c.runUntil(() => (node.durable.snapshot?.index ?? 0) > before && node.persisting === null, 5_000, 'the install to be durable');
          expect(node.durable.entries.every((e) => e.index > node.durable.snapshot!.index)).toBe(true);
        }
        c.crash(f);
        c.run(30);
        c.restart(f);
        // The node starts from whatever snapshot its disk holds, the log after it, and a state machine restored from it.
        const onDisk = node.durable.snapshot?.index ?? 0;
        expect(c.raft(f).status()).toMatchObject({ snapshotIndex: onDisk, appliedIndex: onDisk });
        expect(node.durable.appliedIndex).toBe(onDisk);
        if (mode > 0) expect(onDisk).toBeGreaterThan(before);
        const idx = c.one('after=1', 3);
        allApplied(c, idx);
        sameState(c);
      });
    }
  });

  it('the leader crashes while a snapshot is on its way; the next leader catches the follower up', () => {
    for (const seed of seeds(7600, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 5, persistDelay: [0, 5], ...compacting, snapshotTransfer: [50, 150] });
        const leader = c.waitForLeader();
        const f = c.ids.find((id) => id !== leader)!;
        c.crash(f);
        for (let i = 0; i < 20; i++) c.one(`b${i}=${i}`, 4);
        c.restart(f);
        c.runUntil(() => (c.sent.get('InstallSnapshot') ?? 0) > 0, 2_000, 'the snapshot to go out');
        c.crash(leader);
        const idx = c.one('after=1', 4, 20_000);
        c.restart(leader);
        const idx2 = c.one('again=1', 5, 20_000);
        expect(idx2).toBeGreaterThan(idx);
        allApplied(c, idx2);
        sameState(c);
      });
    }
  });

  it('all nodes crash and restart from their snapshots and log tails; every committed entry survives', () => {
    for (const seed of seeds(7700, 5)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 5, persistDelay: [1, 8], ...compacting, snapshotEvery: 7 });
        c.waitForLeader();
        let last = 0;
        for (let i = 0; i < 30; i++) last = c.one(`k${i}=${i}`, 5);
        for (const id of c.ids) c.crash(id);
        for (const id of c.ids) {
          c.restart(id);
          const d = c.nodes.get(id)!.durable;
          // The state machine is the snapshot's; the core starts its log after it.
          expect(d.snapshot).not.toBeNull();
          expect(d.appliedIndex).toBe(d.snapshot!.index);
          expect([...d.kv]).toEqual([...decodeSnapshotData(d.snapshot!.data).kv]);
          expect(c.raft(id).status().snapshotIndex).toBe(d.snapshot!.index);
        }
        c.waitForLeader();
        const idx = c.one('after=1', 5);
        expect(idx).toBeGreaterThan(last);
        allApplied(c, idx);
        for (const id of c.ids) expect(c.nodes.get(id)!.durable.kv.get('k29')).toBe('29');
        sameState(c);
      });
    }
  });

  it('a restarted node initialises from its snapshot: no entry the snapshot covers is applied again', () => {
    for (const seed of seeds(7800, 3)) {
      withSeed(seed, () => {
        const c = new SimCluster({ seed, size: 3, trace: true, ...compacting });
        const leader = c.waitForLeader();
        for (let i = 0; i < 23; i++) c.one(`k${i}=${i}`, 3);
        const f = c.ids.find((id) => id !== leader)!;
        c.crash(f);
        const snap = c.nodes.get(f)!.durable.snapshot!;
        expect(snap.index).toBeGreaterThanOrEqual(20);
        const mark = c.sink.records.length;
        c.restart(f);
        const idx = c.one('after=1', 3);
        allApplied(c, idx);
        const applies = c.sink.records.slice(mark).filter((r) => r.host === f && r.tag === 'Apply').map((r) => Number(r.body.index));
        expect(applies.length).toBeGreaterThan(0);
        expect(Math.min(...applies)).toBe(snap.index + 1);
        sameState(c);
      });
    }
  });

  it('the trace records InstallSnapshot, its receive, the answer and its receive, in causal order', () => {
    const c = new SimCluster({ seed: 7900, size: 3, trace: true, persistDelay: [0, 3], ...compacting });
    const leader = c.waitForLeader();
    const f = c.ids.find((id) => id !== leader)!;
    c.crash(f);
    for (let i = 0; i < 12; i++) c.one(`b${i}=${i}`, 2);
    c.restart(f);
    allApplied(c, c.one('after=1', 3));
    const tags = c.sink.records.map((r) => r.tag);
    for (const t of ['InstallSnapshot', 'InstallSnapshotRecv', 'InstallSnapshotRes', 'InstallSnapshotResRecv']) expect(tags, t).toContain(t);
    const send = c.sink.records.find((r) => r.tag === 'InstallSnapshot')!;
    expect(send.body).toMatchObject({ leaderId: leader, to: f });
    const res = c.sink.records.find((r) => r.tag === 'InstallSnapshotRes')!;
    expect(res.body).toMatchObject({ serverId: f, to: leader, success: true, index: send.body.index });
    expect(checkShiVizLogFor(c.sink.records).violations).toEqual([]);
  });

  it('Figure 8 with snapshots: leaders crash and restart at random, nodes compact every few entries', () => {
    let total = 0;
    for (const seed of seeds(8000, 5)) {
      withSeed(seed, (s) => {
        const c = new SimCluster({ seed: s, size: 5, persistDelay: [0, 3], ...compacting, snapshotEvery: 4, keepTail: 1 });
        const rng = seededRng(s * 7 + 1);
        c.one('start=1', 1);
        crashStorm(c, rng, 300);
        const idx = c.one('end=1', 5, 30_000);
        allApplied(c, idx, 30_000);
        sameState(c);
        total += installs(c);
      });
    }
    expect(total).toBeGreaterThan(0);
  });

  it('Figure 8 with snapshots over an unreliable network, with partitions', () => {
    for (const seed of seeds(8100, 3)) {
      withSeed(seed, (s) => {
        const c = new SimCluster({ seed: s, size: 5, persistDelay: [0, 3], ...compacting, snapshotEvery: 4, keepTail: 1 });
        c.net.faults = unreliable;
        const rng = seededRng(s * 13 + 5);
        c.one('start=1', 1, 20_000);
        partitionStorm(c, rng, 400);
        c.net.faults = reliable;
        const idx = c.one('end=1', 5, 30_000);
        allApplied(c, idx, 30_000);
        sameState(c);
      });
    }
  });

  it('churn with snapshots: random crash, restart and partition while proposals flow', () => {
    let total = 0;
    for (const seed of seeds(8200, 5)) {
      withSeed(seed, (s) => {
        const c = new SimCluster({ seed: s, size: 5, persistDelay: [0, 5], ...compacting, snapshotEvery: 6, keepTail: 2 });
        const rng = seededRng(s * 31 + 3);
        c.waitForLeader();
        const acknowledged = churn(c, rng, 300);
        const last = c.one('final=1', 5, 30_000);
        allApplied(c, last, 30_000);
        expect(acknowledged.length).toBeGreaterThan(30);
        for (const a of acknowledged) {
          const [k, v] = a.data.split('=');
          for (const id of c.ids) expect(c.nodes.get(id)!.durable.kv.get(k)).toBe(v);
        }
        sameState(c);
        total += installs(c);
      });
    }
    expect(total).toBeGreaterThan(0);
  });
});
