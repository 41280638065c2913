import { describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../tracing/record.ts';
import { commitBeforeApplyRule } from '../../tracing/check/rule-commit-apply.ts';
import { Trace } from '../../tracing/check/trace.ts';
import { happensBefore } from '../../tracing/clock.ts';
import type { AppendEntries, Message } from '../../src/raft/types.ts';
import { SimCluster } from '../sim/cluster.ts';
import { unreliable } from '../sim/network.ts';
import { itSeeded } from '../sim/seed.ts';
import { checkShiVizLogFor } from './trace-helpers.ts';

/**
 * Every message that changes what its receiver knows leaves a trace that says so: here,
 * a follower that learns a commit index from a heartbeat whose send the leader did not
 * record (it had "sent" that commit already) still applies after a Commit in the log.
 */

/** The checker's own rule, on the records of a simulated run. */
function commitBeforeApply(records: TraceRecord[]) {
  return commitBeforeApplyRule(new Trace({ dir: '-', records: records.map((r, i) => ({ ...r, line: i + 1 })), jsonlErrors: [], shiviz: null, history: [], meta: null, problems: [] }));
}

const isAppend = (m: Message): m is AppendEntries => m.type === 'AppendEntries';

/**
 * Commits one more entry that follower `p` holds on disk, and stops `p`'s knowledge of
 * that commit with `lose` right after the leader sent it (p acknowledged the entry, so
 * the leader's next message to p is the first to carry the commit, and it is recorded).
 * Returns the entry's index and that message.
 */
function commitWhileLosingNews(c: SimCluster, leader: string, p: string, lose: () => void): { n: number; news: AppendEntries } {
  let news: AppendEntries | null = null;
  let n = 0;
  const unwatch = c.watch((m) => {
    if (news === null && n > 0 && isAppend(m) && m.from === leader && m.to === p && m.leaderCommit >= n) news = m;
  });
  const res = c.propose('k=v');
  expect(res?.leader).toBe(leader);
  n = res!.index;
  c.runUntil(() => news !== null, 2_000, `the leader's first message to ${p} carrying commit ${n}`);
  unwatch();
  lose();
  return { n, news: news! };
}

describe('a follower that learns a commit from a heartbeat whose send was not recorded', () => {
  it('records the receipt: the follower died before the recorded heartbeat arrived and restarted', () => {
    const c = new SimCluster({ seed: 7100, size: 3, trace: true });
    const leader = c.waitForLeader();
    c.one('a=1', 3);
    const p = c.ids.find((id) => id !== leader)!;
    // p dies with the recorded heartbeat carrying commit N on its way: the leader counts it sent.
    const { n, news } = commitWhileLosingNews(c, leader, p, () => c.crash(p));
    expect(news.entries).toEqual([]);
    const recordedSends = () => c.sink.records.filter((r) => r.host === leader && r.tag === 'AppendEntries' && r.body.to === p && (r.body.leaderCommit as number) >= n);
    expect(recordedSends()).toHaveLength(1);
    c.run(50);
    c.restart(p);
    c.runUntil(() => c.sink.records.some((r) => r.host === p && r.tag === 'Apply' && r.body.index === n), 2_000, `${p} to apply ${n}`);
    // The situation of the fault: nothing the leader recorded after the lost one told p.
    expect(recordedSends()).toHaveLength(1);

    const apply = c.sink.records.find((r) => r.host === p && r.tag === 'Apply' && r.body.index === n)!;
    const commits = c.sink.records.filter((r) => r.tag === 'Commit' && r.body.index === n);
    expect(commits.length).toBeGreaterThan(0);
    expect(commits.some((cm) => happensBefore(cm.clock, apply.clock))).toBe(true);
    // The path runs through p's recorded receipt of the unrecorded heartbeat.
    const recv = c.sink.records.find((r) => r.host === p && r.tag === 'AppendEntriesRecv' && r.body.leaderCommit === n && happensBefore(r.clock, apply.clock));
    expect(recv).toBeDefined();
    expect(commits.some((cm) => happensBefore(cm.clock, recv!.clock))).toBe(true);
    expect(commitBeforeApply(c.sink.records).offenders).toEqual([]);
    expect(checkShiVizLogFor(c.sink.records).violations).toEqual([]);
  });

  it('records the receipt: the recorded heartbeat was dropped by a partition', () => {
    const c = new SimCluster({ seed: 7200, size: 3, trace: true });
    const leader = c.waitForLeader();
    c.one('a=1', 3);
    const p = c.ids.find((id) => id !== leader)!;
    const others = c.ids.filter((id) => id !== p);
    const { n } = commitWhileLosingNews(c, leader, p, () => c.net.partition([others, [p]]));
    c.run(30); // shorter than an election timeout: p still follows the leader when the link is back
    c.net.heal();
    c.runUntil(() => c.sink.records.some((r) => r.host === p && r.tag === 'Apply' && r.body.index === n), 2_000, `${p} to apply ${n}`);
    expect(commitBeforeApply(c.sink.records).offenders).toEqual([]);
    expect(checkShiVizLogFor(c.sink.records).violations).toEqual([]);
  });

  it('a leader that learns a match from an unrecorded reply records it, so its Commit follows it', () => {
    const c = new SimCluster({ seed: 7250, size: 3, trace: true });
    const leader = c.waitForLeader();
    c.one('a=1', 3);
    const [p, q] = c.ids.filter((id) => id !== leader);
    // Only p can make the next entry committed, and p's recorded acknowledgement is lost.
    c.net.cutLink(leader, q);
    c.net.cutOneWay(p, leader);
    const res = c.propose('k=v');
    const n = res!.index;
    c.runUntil(() => c.sink.records.some((r) => r.host === p && r.tag === 'AppendEntriesRes' && (r.body.matchIndex as number) >= n), 1_000, `${p} to acknowledge ${n}`);
    c.run(20);
    expect(c.sink.records.some((r) => r.tag === 'Commit' && r.body.index === n)).toBe(false);
    c.net.restoreLink(p, leader); // a heartbeat's unrecorded reply now tells the leader
    c.runUntil(() => c.sink.records.some((r) => r.tag === 'Commit' && r.body.index === n), 1_000, `the commit of ${n}`);
    const commit = c.sink.records.find((r) => r.tag === 'Commit' && r.body.index === n)!;
    expect(commit.host).toBe(leader);
    const acks = c.sink.records.filter((r) => r.host === leader && r.tag === 'AppendEntriesResRecv' && r.body.serverId === p && r.body.success === true && (r.body.matchIndex as number) >= n);
    expect(acks.some((a) => happensBefore(a.clock, commit.clock))).toBe(true);
    expect(checkShiVizLogFor(c.sink.records).violations).toEqual([]);
  });

  it('an idle cluster still records nothing: a heartbeat that teaches nothing is recorded by no one', () => {
    const c = new SimCluster({ seed: 7300, size: 3, trace: true });
    c.waitForLeader();
    c.one('a=1', 3);
    c.run(200);
    const before = c.sink.records.length;
    const sent = c.sent.get('AppendEntries') ?? 0;
    c.run(2_000);
    expect((c.sent.get('AppendEntries') ?? 0) - sent).toBeGreaterThan(100);
    expect(c.sink.records.length).toBe(before);
  });
});

describe('storms of crashes, restarts, partitions and lost messages', () => {
  itSeeded('every Apply follows a Commit of its index, and the log passes every ShiViz rule', 7400, 6, (seed) => {
    const c = new SimCluster({ seed, size: 5, trace: true, persistDelay: [0, 3] });
    c.waitForLeader();
    c.net.faults = unreliable;
    let k = 0;
    for (let round = 0; round < 6; round++) {
      const down = c.ids[(seed + round) % c.ids.length];
      const cut = c.ids[(seed + 2 * round + 1) % c.ids.length];
      for (let i = 0; i < 5; i++) c.propose(`k${k}=${k++}`);
      c.run(15);
      c.crash(down);
      for (let i = 0; i < 5; i++) c.propose(`k${k}=${k++}`);
      c.run(20);
      if (cut !== down) c.net.partition([c.ids.filter((id) => id !== cut), [cut]]);
      for (let i = 0; i < 5; i++) c.propose(`k${k}=${k++}`);
      c.run(60);
      c.net.heal();
      c.restart(down);
      c.run(300);
    }
    c.one('last=1', 5, 20_000);
    c.run(1_000);
    const applies = c.sink.records.filter((r) => r.tag === 'Apply').length;
    expect(applies).toBeGreaterThan(50);
    expect(commitBeforeApply(c.sink.records).offenders).toEqual([]);
    expect(checkShiVizLogFor(c.sink.records).violations).toEqual([]);
  });
});
