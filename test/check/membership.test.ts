import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newLeaderCanvassedAll } from '../../scenarios/trace-rules.ts';
import { ConfigsInForce } from '../../tracing/check/config-in-force.ts';
import { loadRun } from '../../tracing/check/load.ts';
import { formatReport, runChecks, type CheckReport } from '../../tracing/check/report.ts';
import { Trace } from '../../tracing/check/trace.ts';
import { failingRules as failing, mutateRun } from './mutate.ts';
import { INITIAL, produceMembershipRun, type MembershipRunOptions } from './membership-run.ts';

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function run(opts: MembershipRunOptions = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-check-membership-'));
  temps.push(dir);
  produceMembershipRun(dir, opts);
  return dir;
}

const ruleOf = (report: CheckReport, rule: string) => report.results.find((r) => r.rule === rule)!;
const messages = (report: CheckReport, rule: string) => ruleOf(report, rule).offenders.map((o) => o.message).join('\n');

function expectPasses(dir: string): CheckReport {
  const report = runChecks(dir);
  expect(failing(report), formatReport(report)).toEqual([]);
  return report;
}

function expectFails(dir: string, rules: string[]): CheckReport {
  const report = runChecks(dir);
  expect(failing(report), formatReport(report)).toEqual([...rules].sort());
  return report;
}

const ALL5 = '{server0,server1,server2,server3,server4}';
const OLD3 = '{server0,server1,server2}';

describe('majorities against the configuration in force (membership changes, Raft §6)', () => {
  it('server3 and server4 join (joint, then C_new committed): a leader with 3 of the 5 votes passes', () => {
    const dir = run({ winner: 'server3', grants: ['server4', 'server1'] });
    const report = expectPasses(dir);
    // meta.json lists the 3 servers the run began with: the winner is not one of them.
    expect(loadRun(dir).meta?.servers).toEqual(INITIAL);
    expect(ruleOf(report, 'election-safety').note).toContain(`2 configuration changes committed, the last ${ALL5} at index 3`);
    expect(ruleOf(report, 'conf-change').note).toContain('2 configuration changes proposed, 2 committed');
  });

  it('after the change, 2 of the 5 votes fail election-safety though they are a majority of the old 3', () => {
    const report = expectFails(run({ winner: 'server1', grants: ['server2'] }), ['election-safety']);
    expect(ruleOf(report, 'election-safety').offenders).toHaveLength(1);
    expect(messages(report, 'election-safety')).toMatch(
      new RegExp(`^server1 became leader of term 2 with 2 of 5 votes \\(itself, server2\\); needs 3 of ${ALL5}: committed at index 3 \\(ConfChangeCommitted@server0:\\d+ \\(line \\d+\\)\\)$`),
    );
  });

  it('while joint, a majority of C_new that is not one of C_old fails election-safety', () => {
    const report = expectFails(run({ stage: 'joint', winner: 'server3', grants: ['server4', 'server1'] }), ['election-safety']);
    expect(messages(report, 'election-safety')).toContain(
      `server3 became leader of term 2 with votes 3 of 5 of C_new (itself, server1, server4) and 1 of 3 of C_old (server1); needs 3 of ${ALL5} (C_new) and 2 of ${OLD3} (C_old): committed at index 2`,
    );
  });

  it('while joint, majorities of both C_old and C_new pass', () => {
    expectPasses(run({ stage: 'joint', winner: 'server1', grants: ['server2', 'server3'] }));
  });

  it('once leaveJoint was proposed before the election (not yet committed), C_new alone may be in force: a majority of it passes', () => {
    const report = expectPasses(run({ stage: 'leaving', winner: 'server3', grants: ['server4', 'server1'] }));
    expect(ruleOf(report, 'conf-change').status).toBe('PASS');
  });

  it("learners' votes do not count", () => {
    const report = expectFails(run({ change: 'learners', winner: 'server1', grants: ['server3', 'server4'] }), ['election-safety']);
    expect(messages(report, 'election-safety')).toMatch(
      new RegExp(`^server1 became leader of term 2 with 1 of 3 votes \\(itself\\); needs 2 of ${OLD3}: committed at index 2 .*; not counted: server3, server4 \\(learners\\)$`),
    );
    // The same run with a voter's vote instead passes.
    expectPasses(run({ change: 'learners', winner: 'server1', grants: ['server2'] }));
  });

  it('a learner cannot be elected', () => {
    const report = expectFails(run({ change: 'learners', winner: 'server3', grants: ['server0', 'server1', 'server2'] }), ['election-safety']);
    expect(messages(report, 'election-safety')).toContain(`server3 is not a voter of the configuration in force (${OLD3}: committed at index 2`);
  });

  it('a leader that removes itself: the rest elect a leader by a majority of C_new', () => {
    expectPasses(run({ change: 'removeLeader', winner: 'server1', grants: ['server2'] }));
  });
});

describe('config-in-force', () => {
  const configsOf = (opts: MembershipRunOptions) => new ConfigsInForce(new Trace(loadRun(run(opts))));
  const voterSets = (list: { voters: string[]; votersOutgoing: string[] }[] | null) => list?.map((c) => [c.voters.join(','), c.votersOutgoing.join(',')]);

  it('answers by log index from the commits, and falls back to meta.json before any', () => {
    const configs = configsOf({});
    expect(configs.initialSource).toBe('meta.json');
    expect(configs.committedAt(1)).toMatchObject({ voters: INITIAL, votersOutgoing: [], index: 0, event: null });
    expect(configs.committedAt(2)).toMatchObject({ voters: [...INITIAL, 'server3', 'server4'], votersOutgoing: INITIAL, index: 2, committed: true });
    expect(configs.committedAt(9)).toMatchObject({ voters: [...INITIAL, 'server3', 'server4'], votersOutgoing: [], index: 3 });
  });

  it('answers by term: term 1 the initial configuration, term 2 the committed one, or its proposed successor', () => {
    const all = 'server0,server1,server2,server3,server4';
    expect(voterSets(configsOf({}).forTerm(1))).toEqual([[INITIAL.join(','), '']]);
    expect(voterSets(configsOf({}).forTerm(2))).toEqual([[all, '']]);
    expect(voterSets(configsOf({ stage: 'joint', winner: 'server1', grants: ['server2', 'server3'] }).forTerm(2))).toEqual([[all, INITIAL.join(',')]]);
    expect(voterSets(configsOf({ stage: 'leaving' }).forTerm(2))).toEqual([[all, INITIAL.join(',')], [all, '']]);
    expect(configsOf({}).forTerm(3)).toBeNull();
  });

  it("meta.json's voters, when its servers list the joiners too", () => {
    const withVoters = (dir: string) => {
      writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ servers: ['server0', 'server1', 'server2', 'server3', 'server4'], voters: INITIAL }));
      return dir;
    };
    const report = expectPasses(withVoters(run()));
    expect(ruleOf(report, 'election-safety').note).toContain('majority 2 of 3 initial voters (meta.json voters): server0, server1, server2');
    const bad = expectFails(withVoters(run({ winner: 'server1', grants: ['server2'] })), ['election-safety']);
    expect(messages(bad, 'election-safety')).toContain(`needs 3 of ${ALL5}: committed at index 3`);
  });

  it('without meta.json, the voters before the first change', () => {
    const dir = run();
    rmSync(path.join(dir, 'meta.json'));
    const configs = new ConfigsInForce(new Trace(loadRun(dir)));
    expect(configs.initialSource).toBe('first change');
    expect(configs.initial.voters).toEqual(INITIAL);
    const report = expectPasses(dir);
    expect(ruleOf(report, 'election-safety').note).toContain('voters before the first configuration change (no meta.json): server0, server1, server2');
  });
});

describe('conf-change', () => {
  it('a second change proposed before the first committed fails conf-change', () => {
    const report = expectFails(run({ change: 'learners', fault: 'proposeWhilePending', winner: 'server1', grants: ['server2'] }), ['conf-change']);
    expect(messages(report, 'conf-change')).toMatch(
      /^ConfChangeProposed@server0:\d+ \(line \d+\) proposed 'addLearnerNode server4' at index 3 while its change at index 2 \('addLearnerNode server3', ConfChangeProposed@server0:\d+ \(line \d+\)\) was not committed: one change at a time$/,
    );
  });

  it('a change other than leaveJoint while joint fails conf-change', () => {
    const report = expectFails(run({ fault: 'proposeWhileJoint', winner: 'server1', grants: ['server2', 'server3'] }), ['conf-change']);
    expect(messages(report, 'conf-change')).toContain(
      `proposed 'removeNode server2' (voters {server0,server1,server3,server4} and ${OLD3}) while the joint configuration ${ALL5} and ${OLD3} (joint), committed at index 2`,
    );
  });

  it('a leader left out of the committed C_new that goes on committing fails conf-change', () => {
    const report = expectFails(run({ change: 'removeLeader', fault: 'leaderStaysOn', winner: 'server1', grants: ['server2'] }), ['conf-change']);
    expect(messages(report, 'conf-change')).toMatch(/^Commit@server0:\d+ \(line \d+\): server0 acts as leader after ConfChangeCommitted@server0:\d+ \(line \d+\) committed voters \{server1,server2\} without it$/);
  });

  it('a ConfChangeCommitted that names another configuration than its proposal fails conf-change', () => {
    const dir = mutateRun(run(), (files) => {
      const c = files.records.find((r) => r.tag === 'ConfChangeCommitted' && r.body.index === 3)!;
      c.body.learners = ['server5'];
    });
    temps.push(dir);
    const report = expectFails(dir, ['conf-change']);
    expect(messages(report, 'conf-change')).toMatch(
      new RegExp(`^ConfChangeCommitted@server0:\\d+ \\(line \\d+\\) commits ${ALL5} learners \\{server5\\} at index 3, but ConfChangeProposed@server0:\\d+ \\(line \\d+\\) proposed ${ALL5}$`),
    );
  });

  it('a change proposed in a term its server does not lead fails conf-change', () => {
    const dir = mutateRun(run(), (files) => {
      files.records.find((r) => r.tag === 'ConfChangeProposed' && r.body.index === 2)!.body.term = 2;
    });
    temps.push(dir);
    const report = expectFails(dir, ['conf-change']);
    expect(messages(report, 'conf-change')).toMatch(/^ConfChangeProposed@server0:\d+ \(line \d+\) proposed index 2 of term 2, but server0 was leader of term 1$/);
  });

  it('a first change that does not start from the configured servers (meta.json) fails conf-change', () => {
    const dir = run();
    // meta.json listing the joiners as well: the first change no longer starts from it (and term 1's 2 votes are no majority of 5).
    writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ servers: ['server0', 'server1', 'server2', 'server3', 'server4'] }));
    const report = expectFails(dir, ['conf-change', 'election-safety']);
    expect(messages(report, 'conf-change')).toContain(`changes voters ${OLD3}, but the configuration committed last is ${ALL5}, the initial configuration (meta.json servers)`);
    expect(messages(report, 'election-safety')).toContain(`server0 became leader of term 1 with 2 of 5 votes (itself, server1); needs 3 of ${ALL5}: the initial configuration (meta.json servers)`);
  });
});

describe('scenario rule new-leader-canvassed-all', () => {
  it('asks the voters in force, new ones included', () => {
    const ok = newLeaderCanvassedAll(2)(new Trace(loadRun(run({ winner: 'server3', grants: ['server4', 'server1'] }))));
    expect(ok.status, ok.offenders.map((o) => o.message).join('\n')).toBe('PASS');
    const bad = newLeaderCanvassedAll(2)(new Trace(loadRun(run({ winner: 'server3', grants: ['server0', 'server1'], notAsked: ['server4'] }))));
    expect(bad.status).toBe('FAIL');
    expect(bad.offenders.map((o) => o.message).join('\n')).toMatch(/never sent RequestVote to server4 in term 2/);
  });
});
