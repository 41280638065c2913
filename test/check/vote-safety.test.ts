import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReport, runChecks, type CheckReport } from '../../tracing/check/report.ts';
import { voteSafetyRule } from '../../tracing/check/rule-vote-safety.ts';
import { Trace } from '../../tracing/check/trace.ts';
import type { TraceRecord } from '../../tracing/record.ts';
import type { JsonlRecord } from '../../tracing/shiviz.ts';
import { produceGoodRun, type GoodRun } from './good-run.ts';
import { produceMembershipRun } from './membership-run.ts';
import { hostRecords, failingRules as failing, mutateRun, readRun, type RunFiles } from './mutate.ts';
import { produceSnapshotRun } from './snapshot-run.ts';

/**
 * vote-safety (tracing/check/rule-vote-safety.ts) on a real traced run (3 servers, the first
 * leader killed and restarted): it passes, and copies broken on purpose (a second vote in a
 * term, also across a restart; a term that goes back) fail vote-safety only, with its message.
 */

let good: GoodRun;
const temps: string[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-check-votes-'));
  temps.push(dir);
  good = await produceGoodRun(path.join(dir, 'run'));
}, 120_000);

afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function mutate(change: (run: RunFiles) => void): string {
  const dir = mutateRun(good.dir, change);
  temps.push(dir);
  return dir;
}

const voteSafety = (report: CheckReport) => report.results.find((r) => r.rule === 'vote-safety')!;
const messages = (report: CheckReport) => voteSafety(report).offenders.map((o) => o.message).join('\n');

/** Runs the checker and expects exactly `rules` to FAIL, plus any of `mayAlso` (the report is the failure message). */
function expectFails(dir: string, rules: string[], mayAlso: string[] = []): CheckReport {
  const report = runChecks(dir);
  expect(failing(report).filter((r) => !mayAlso.includes(r)), formatReport(report)).toEqual([...rules].sort());
  return report;
}

function expectPasses(dir: string): CheckReport {
  const report = runChecks(dir);
  expect(failing(report), formatReport(report)).toEqual([]);
  expect(voteSafety(report).status).toBe('PASS');
  return report;
}

const isGrant = (r: TraceRecord) => r.tag === 'RequestVoteRes' && r.body.voteGranted === true && r.body.preVote !== true;

/** A host's lives in its own order: split before each ServerStart. */
function lives(records: TraceRecord[], host: string): TraceRecord[][] {
  const out: TraceRecord[][] = [];
  for (const r of hostRecords(records, host)) {
    if (r.tag === 'ServerStart' || out.length === 0) out.push([]);
    out[out.length - 1].push(r);
  }
  return out;
}

/** The highest counter of `host` that another host's clock names. */
function seenOf(records: TraceRecord[], host: string): number {
  return Math.max(0, ...records.filter((r) => r.host !== host).map((r) => r.clock[host] ?? 0));
}

/** Turns `r` into a real vote of its host (its clock stays, so every happens-before stays). */
function makeGrant(r: TraceRecord, candidateId: string, term: number, voteGranted = true, preVote = false): void {
  Object.assign(r, { tag: 'RequestVoteRes', traceId: '', body: { voteGranted, serverId: r.host, candidateId, term, preVote } });
}

/** A granted real vote, and the first AppendEntriesRes of the same host and life after it. */
function grantAndLater(records: TraceRecord[]): { grant: TraceRecord; later: TraceRecord; other: string } {
  for (const r of records.filter(isGrant)) {
    const life = lives(records, r.host).find((l) => l.includes(r))!;
    const later = life.find((x) => x.tag === 'AppendEntriesRes' && x.clock[r.host] > r.clock[r.host]);
    const other = good.servers.find((s) => s !== r.host && s !== r.body.candidateId);
    if (later && other) return { grant: r, later, other };
  }
  throw new Error('the good run has no granted vote followed by an AppendEntriesRes of its host');
}

describe('vote-safety on a real traced run', () => {
  it('the good run, the snapshot run and the membership run pass it, and it saw votes and terms', () => {
    const { records } = readRun(good.dir);
    expect(records.filter(isGrant).length).toBeGreaterThan(0);
    expect(lives(records, good.firstLeader)).toHaveLength(2);
    expect(voteSafety(expectPasses(good.dir)).note).toMatch(/^[1-9]\d* granted votes, [1-9]\d* events stamped/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-check-votes-fixtures-'));
    temps.push(dir);
    for (const kind of ['below', 'above'] as const) expectPasses(produceSnapshotRun(path.join(dir, `snap-${kind}`), kind).dir);
    const membership = produceMembershipRun(path.join(dir, 'membership'));
    expectPasses(membership.dir);
  }, 120_000);

  it('a second grant in one term to another candidate, in the same life, fails vote-safety only', () => {
    let host = '';
    let term = 0;
    let first = '';
    let other = '';
    const dir = mutate((run) => {
      const found = grantAndLater(run.records);
      ({ host } = found.grant);
      term = Number(found.grant.body.term);
      first = String(found.grant.body.candidateId);
      other = found.other;
      makeGrant(found.later, other, term);
    });
    const report = expectFails(dir, ['vote-safety']);
    expect(voteSafety(report).offenders[0]).toMatchObject({ host, message: expect.stringContaining(`${host} grants its vote in term ${term} to ${other}, having granted it to ${first} in RequestVoteRes@${host}:`) });
    expect(messages(report)).not.toContain('before a restart');
  });

  it('a repeated grant to the same candidate (a retransmission) and a pre-vote to another pass', () => {
    for (const change of [
      (r: TraceRecord, g: TraceRecord) => makeGrant(r, String(g.body.candidateId), Number(g.body.term)),
      (r: TraceRecord, g: TraceRecord, other: string) => makeGrant(r, other, Number(g.body.term) + 1, true, true),
    ]) {
      const dir = mutate((run) => {
        const found = grantAndLater(run.records);
        change(found.later, found.grant, found.other);
      });
      expectPasses(dir);
    }
  });

  /**
   * The first leader, in its first life, grants a vote in its last term (an AppendEntries it
   * sent, which a follower received: so it was on disk); after its restart, it grants one in
   * that term to another candidate.
   */
  function voteAcrossRestart(run: RunFiles, opts: { leftBeforeCrash: boolean }): { term: number; first: string; second: string } {
    const host = good.firstLeader;
    const [life1, life2] = lives(run.records, host);
    const seen = seenOf(run.records, host);
    const sent = life1.filter((r) => r.tag === 'AppendEntries' && (opts.leftBeforeCrash ? r.clock[host] <= seen : true));
    const before = sent.at(-1)!;
    expect(before).toBeDefined();
    const term = Number(before.body.term);
    const [first, second] = good.servers.filter((s) => s !== host);
    makeGrant(before, first, term);
    const after = life2.find((r) => r.tag === 'AppendEntriesRes')!;
    // The first event of the new life that stamps a term: no term goes back within it.
    expect(life2.filter((r) => r.clock[host] < after.clock[host] && ['AppendEntries', 'AppendEntriesRes', 'RequestVote', 'RequestVoteRes', 'LeaderElected'].includes(r.tag) && r.body.preVote !== true)).toEqual([]);
    makeGrant(after, second, term);
    return { term, first, second };
  }

  it('after a restart (a ServerStart), a grant to another candidate in a term it already voted in fails vote-safety only', () => {
    let v = { term: 0, first: '', second: '' };
    const dir = mutate((run) => {
      v = voteAcrossRestart(run, { leftBeforeCrash: true });
    });
    const report = expectFails(dir, ['vote-safety']);
    const host = good.firstLeader;
    expect(voteSafety(report).offenders).toHaveLength(1);
    expect(voteSafety(report).offenders[0]).toMatchObject({
      host,
      message: expect.stringMatching(new RegExp(`^${host} grants its vote in term ${v.term} to ${v.second}, having granted it to ${v.first} in RequestVoteRes@${host}:\\d+ \\(line \\d+\\) \\(before a restart; votedFor is durable\\)$`)),
    });
  });

  it('a grant or term of an earlier life that no other host heard of (it may not have reached the disk) binds the next life only once heard', () => {
    // A small trace by hand: server0 grants server1 its vote in term 2, is killed, restarts,
    // answers in term 1, and grants server2 its vote in term 2. Whether the first life
    // binds the second depends only on whether server1's clock names the first grant.
    const check = (heard: boolean) => {
      const rec = (host: string, clock: Record<string, number>, tag: string, body: Record<string, unknown> = {}, line = 0): JsonlRecord => ({ host, traceId: '', tag, body, clock, line });
      const records = [
        rec('server0', { server0: 1 }, 'ServerStart', { serverId: 'server0' }),
        rec('server0', { server0: 2 }, 'RequestVoteRes', { voteGranted: true, serverId: 'server0', candidateId: 'server1', term: 2, preVote: false }),
        rec('server1', heard ? { server0: 2, server1: 1 } : { server1: 1 }, heard ? 'RequestVoteResRecv' : 'ServerStart', {}),
        rec('server0', { server0: 3 }, 'ServerStart', { serverId: 'server0' }),
        rec('server0', { server0: 4 }, 'AppendEntriesRes', { success: false, serverId: 'server0', to: 'server1', term: 1 }),
        rec('server0', { server0: 5 }, 'RequestVoteRes', { voteGranted: true, serverId: 'server0', candidateId: 'server2', term: 2, preVote: false }),
      ].map((r, i) => ({ ...r, line: i + 1 }));
      return voteSafetyRule(new Trace({ dir: 'hand-made', records, jsonlErrors: [], shiviz: null, history: [], meta: null, problems: [] }));
    };
    expect(check(false).offenders).toEqual([]);
    expect(check(false).status).toBe('PASS');
    const heard = check(true);
    expect(heard.status).toBe('FAIL');
    expect(heard.offenders.map((o) => o.message)).toEqual([
      'server0 acts in term 1 (AppendEntriesRes) after RequestVoteRes@server0:2 (line 2) in term 2 (before a restart; currentTerm is durable)',
      'server0 grants its vote in term 2 to server2, having granted it to server1 in RequestVoteRes@server0:2 (line 2) (before a restart; votedFor is durable)',
    ]);
  });

  it("a follower's AppendEntriesRes that goes back to a lower term fails vote-safety only", () => {
    let host = '';
    const dir = mutate((run) => {
      // The last AppendEntriesRes of the follower that was never restarted, back to term 0
      // (every term it acted in before was at least 1).
      host = good.servers.find((s) => s !== good.firstLeader && hostRecords(run.records, s).some((r) => r.tag === 'AppendEntriesRes'))!;
      const own = hostRecords(run.records, host).filter((r) => r.tag === 'AppendEntriesRes');
      expect(own.length).toBeGreaterThan(1);
      own.at(-1)!.body.term = 0;
    });
    const report = expectFails(dir, ['vote-safety']);
    expect(voteSafety(report).offenders).toHaveLength(1);
    expect(voteSafety(report).offenders[0]).toMatchObject({
      host,
      message: expect.stringMatching(new RegExp(`^${host} acts in term 0 \\(AppendEntriesRes\\) after \\w+@${host}:\\d+ \\(line \\d+\\) in term [1-9]\\d*$`)),
    });
  });

  it("a leader's AppendEntries that goes back to a lower term fails vote-safety only", () => {
    let leader = '';
    let low = 0;
    const dir = mutate((run) => {
      const sent = run.records.filter((r) => r.tag === 'AppendEntries').sort((a, b) => Number(b.body.term) - Number(a.body.term) || b.clock[b.host] - a.clock[a.host]);
      const last = sent[0];
      leader = last.host;
      low = Number(last.body.term) - 1;
      last.body.term = low;
    });
    const report = expectFails(dir, ['vote-safety']);
    expect(voteSafety(report).offenders[0]).toMatchObject({ host: leader, message: expect.stringContaining(`${leader} acts in term ${low} (AppendEntries) after`) });
  });

  it('a RequestVoteRes after a restart in a term lower than the last life had reached fails vote-safety', () => {
    const host = good.firstLeader;
    let low = 0;
    const dir = mutate((run) => {
      const [life1, life2] = lives(run.records, host);
      const seen = seenOf(run.records, host);
      const known = Math.max(...life1.filter((r) => r.tag === 'AppendEntries' && r.clock[host] <= seen).map((r) => Number(r.body.term)));
      low = known - 1;
      // A refusal: it counts for no election.
      makeGrant(life2.find((r) => r.tag === 'AppendEntriesRes')!, good.servers.find((s) => s !== host)!, low, false);
    });
    const report = expectFails(dir, ['vote-safety']);
    expect(voteSafety(report).offenders[0]).toMatchObject({
      host,
      message: expect.stringMatching(new RegExp(`^${host} acts in term ${low} \\(RequestVoteRes\\) after \\w+@${host}:\\d+ \\(line \\d+\\) in term ${low + 1} \\(before a restart; currentTerm is durable\\)$`)),
    });
  });
});
