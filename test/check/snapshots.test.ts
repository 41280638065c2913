import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReport, runChecks, type CheckReport } from '../../tracing/check/report.ts';
import { GENERAL_RULES } from '../../tracing/check/rules.ts';
import { installSnapshotRule } from '../../tracing/check/rule-install-snapshot.ts';
import { snapshotSafetyRule } from '../../tracing/check/rule-snapshot-safety.ts';
import { Trace } from '../../tracing/check/trace.ts';
import type { TraceRecord } from '../../tracing/record.ts';
import { hostRecords, failingRules as failing, mutateRun, readRun, type RunFiles } from './mutate.ts';
import { produceSnapshotRun, type SnapshotRun } from './snapshot-run.ts';

/**
 * The checkers on a run with log compaction (Raft §7): a scripted run (test/check/snapshot-run.ts)
 * where one follower installs the leader's snapshot, one fast-forwards, and one restarts
 * from its own snapshot passes every rule; copies broken on purpose fail the rule that
 * guards what they break, with its message.
 */

let good: SnapshotRun;
const temps: string[] = [];

beforeAll(() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-check-snap-'));
  temps.push(dir);
  good = produceSnapshotRun(path.join(dir, 'run'));
});

afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function mutate(change: (run: RunFiles) => void): string {
  const dir = mutateRun(good.dir, change);
  temps.push(dir);
  return dir;
}

const ruleOf = (report: CheckReport, rule: string) => report.results.find((r) => r.rule === rule)!;
const messages = (report: CheckReport, rule: string) => ruleOf(report, rule).offenders.map((o) => o.message).join('\n');

/** Runs the checker and expects exactly `rules` to FAIL, plus any of `mayAlso` (the report is the failure message). */
function expectFails(dir: string, rules: string[], mayAlso: string[] = []): CheckReport {
  const report = runChecks(dir);
  expect(failing(report).filter((r) => !mayAlso.includes(r)), formatReport(report)).toEqual([...rules].sort());
  return report;
}

function expectPasses(dir: string): CheckReport {
  const report = runChecks(dir);
  expect(failing(report), formatReport(report)).toEqual([]);
  for (const r of report.results) expect(r.status, `${r.rule}: ${r.note ?? ''}`).toBe('PASS');
  return report;
}

/** One event of `host` with `tag` (and matching `where`), in the host's order: the only one, or the `nth`. */
function eventOf(records: TraceRecord[], host: string, tag: string, where: (r: TraceRecord) => boolean = () => true): TraceRecord {
  const found = hostRecords(records, host).filter((r) => r.tag === tag && where(r));
  expect(found, `${tag} on ${host}`).toHaveLength(1);
  return found[0];
}

/** Adds a local event after `host`'s last one: nobody's clock names it, so the log stays valid. */
function appendLocal(records: TraceRecord[], host: string, tag: string, body: Record<string, unknown>): void {
  const last = hostRecords(records, host).at(-1)!;
  records.push({ host, traceId: '', tag, body, clock: { ...last.clock, [host]: last.clock[host] + 1 } });
}

/** A Trace of records held in memory (for rule-level cases a run cannot show). */
function traceOf(records: TraceRecord[]): Trace {
  return new Trace({ dir: '-', records: records.map((r, i) => ({ ...r, line: i + 1 })), jsonlErrors: [], shiviz: null, history: [], meta: null, problems: [] });
}

const index = (i: number) => (r: TraceRecord) => r.body.index === i;

describe('raftkv check on a run with snapshots (an install, a fast-forward, a restart from an own snapshot)', () => {
  it('the run has what the mutations need, and every rule passes on it', () => {
    const { records } = readRun(good.dir);
    const tags = (host: string) => hostRecords(records, host).map((r) => r.tag);
    // The installed follower restores 5 right after answering, and never applies 1..5.
    expect(tags(good.installed).filter((t) => /Snapshot|Apply/.test(t))).toEqual(['InstallSnapshotRecv', 'InstallSnapshotRes', 'SnapshotRestored', 'Apply', 'Apply']);
    expect(hostRecords(records, good.installed).filter((r) => r.tag === 'Apply').map((r) => r.body.index)).toEqual([6, 7]);
    expect(eventOf(records, good.installed, 'SnapshotRestored').body).toEqual({ serverId: good.installed, index: 5, term: 1 });
    // The fast-forwarded one answers success without a restore, then applies from its own log.
    expect(tags(good.fastForwarded).filter((t) => /Snapshot|Apply/.test(t)).slice(0, 3)).toEqual(['InstallSnapshotRecv', 'InstallSnapshotRes', 'Apply']);
    expect(tags(good.fastForwarded).filter((t) => t === 'ServerStart')).toHaveLength(2);
    const report = expectPasses(good.dir);
    expect(report.results.map((r) => r.rule)).toEqual(GENERAL_RULES.map((r) => r.name));
    expect(ruleOf(report, 'install-snapshot').note).toBe('2 InstallSnapshot sent; 2 answered with success: 1 restored, 1 already held the snapshot\'s last entry');
    expect(ruleOf(report, 'snapshot-safety').note).toBe('4 SnapshotTaken, 2 SnapshotRestored, 2 InstallSnapshot');
  });

  it('a restart whose restore is above its last traced Apply (the crash lost that tail) passes', () => {
    const dir = path.join(temps[0], 'above');
    produceSnapshotRun(dir, 'above');
    const { records } = readRun(dir);
    const f = hostRecords(records, good.fastForwarded);
    const restore = eventOf(records, good.fastForwarded, 'SnapshotRestored');
    expect(restore.body.index).toBe(6);
    // Its last Apply before the restart is 5, its first after is 7: the restore covers 6.
    expect(f.filter((r) => r.tag === 'Apply').map((r) => r.body.index)).toEqual([1, 2, 3, 4, 5, 7]);
    expectPasses(dir);
  });

  describe('rule 3: state machine safety', () => {
    it('an Apply that skips past the restored snapshot fails state-machine-safety only', () => {
      const dir = mutate((run) => {
        // Relabelled rather than deleted, so the clocks stay valid for ShiViz.
        eventOf(run.records, good.installed, 'Apply', index(6)).tag = 'Dropped';
      });
      const report = expectFails(dir, ['state-machine-safety']);
      expect(messages(report, 'state-machine-safety')).toMatch(new RegExp(`^${good.installed} skips from 5 to 7 \\(after SnapshotRestored@${good.installed}:\\d+ \\(line \\d+\\) of index 5\\)$`));
    });

    it('an Apply of an index the restored snapshot covers fails state-machine-safety only', () => {
      const dir = mutate((run) => {
        const restore = eventOf(run.records, good.installed, 'SnapshotRestored');
        // The answer to the AppendEntries of 6 becomes an Apply of 5, which the snapshot holds.
        const between = hostRecords(run.records, good.installed).find((r) => r.tag === 'AppendEntriesRes' && r.clock[good.installed] > restore.clock[good.installed])!;
        const five = eventOf(run.records, good.leader, 'Apply', index(5));
        Object.assign(between, { tag: 'Apply', traceId: '', body: { ...five.body } });
      });
      const report = expectFails(dir, ['state-machine-safety']);
      expect(messages(report, 'state-machine-safety')).toMatch(new RegExp(`^${good.installed} applies index 5 again \\(expected 6\\) \\(after SnapshotRestored@`));
    });

    it('a restore below what the server applied in this life fails state-machine-safety only', () => {
      const dir = mutate((run) => appendLocal(run.records, good.installed, 'SnapshotRestored', { serverId: good.installed, index: 5, term: 1 }));
      const report = expectFails(dir, ['state-machine-safety']);
      expect(messages(report, 'state-machine-safety')).toBe(`${good.installed} restores a snapshot of index 5 after applying up to 7: a state machine never goes back`);
    });

    it('the same restore right after a restart (a new life loading its own snapshot) passes', () => {
      const dir = mutate((run) => {
        appendLocal(run.records, good.installed, 'ServerStart', { serverId: good.installed });
        appendLocal(run.records, good.installed, 'SnapshotRestored', { serverId: good.installed, index: 5, term: 1 });
      });
      expectPasses(dir);
    });

    it('a snapshot of more than the server applied fails state-machine-safety only', () => {
      const dir = mutate((run) => {
        eventOf(run.records, good.leader, 'SnapshotTaken', index(7)).body.index = 8;
      });
      const report = expectFails(dir, ['state-machine-safety'], ['snapshot-safety']);
      expect(messages(report, 'state-machine-safety')).toBe(`${good.leader} takes a snapshot of index 8, but its state machine holds only up to 7`);
      // 8 was never committed either.
      expect(messages(report, 'snapshot-safety')).toContain('SnapshotTaken of index 8, which was never committed');
    });
  });

  describe('snapshot safety', () => {
    it('a snapshot whose term disagrees with the Applies of its index fails snapshot-safety only', () => {
      const dir = mutate((run) => {
        eventOf(run.records, good.leader, 'SnapshotTaken', index(5)).body.term = 2;
      });
      const report = expectFails(dir, ['snapshot-safety']);
      expect(messages(report, 'snapshot-safety')).toMatch(/^SnapshotTaken of index 5 says term 2, but Commit@server0:\d+ \(line \d+\) has term 1 at index 5$/);
    });

    it('a restored snapshot of an index nobody committed fails snapshot-safety only', () => {
      const dir = mutate((run) => appendLocal(run.records, good.installed, 'SnapshotRestored', { serverId: good.installed, index: 9, term: 1 }));
      const report = expectFails(dir, ['snapshot-safety']);
      expect(messages(report, 'snapshot-safety')).toBe('SnapshotRestored of index 9, which was never committed: no server recorded a Commit of index 9 or beyond (highest: 7)');
    });

    it('a restore of a committed index that no Commit happens before passes, and the note says so', () => {
      // A restart whose trace lost the tail that knew of the Commit: its clock knows nothing of the leader.
      const trace = traceOf([
        { host: 'server0', traceId: '', tag: 'Commit', body: { term: 1, index: 5, operation: 'noop' }, clock: { server0: 1 } },
        { host: 'server1', traceId: '', tag: 'SnapshotRestored', body: { serverId: 'server1', index: 4, term: 1 }, clock: { server1: 1 } },
      ]);
      const r = snapshotSafetyRule(trace);
      expect(r.status, r.offenders.map((o) => o.message).join('\n')).toBe('PASS');
      expect(r.note).toBe('0 SnapshotTaken, 1 SnapshotRestored, 0 InstallSnapshot; 1 at indexes committed by a Commit that does not happen before them (the trace does not show how the server learned it: e.g. a restart that lost its trace\'s tail)');
    });

    it('snapshots at an index no Commit or Apply shows must agree on its term', () => {
      const trace = traceOf([
        { host: 'server0', traceId: '', tag: 'Commit', body: { term: 2, index: 9, operation: 'noop' }, clock: { server0: 1 } },
        { host: 'server0', traceId: '', tag: 'SnapshotTaken', body: { serverId: 'server0', index: 8, term: 1 }, clock: { server0: 2 } },
        { host: 'server1', traceId: '', tag: 'SnapshotRestored', body: { serverId: 'server1', index: 8, term: 2 }, clock: { server0: 2, server1: 1 } },
      ]);
      expect(snapshotSafetyRule(trace).offenders.map((o) => o.message)).toEqual([
        'SnapshotRestored of index 8 says term 2, but SnapshotTaken@server0:2 (line 2) says term 1',
      ]);
    });
  });

  describe('install snapshot', () => {
    it('a success answer without a restore, from a follower that did not hold the entry, fails install-snapshot only', () => {
      const dir = mutate((run) => {
        eventOf(run.records, good.installed, 'SnapshotRestored').tag = 'Dropped';
      });
      const report = expectFails(dir, ['install-snapshot']);
      expect(messages(report, 'install-snapshot')).toMatch(
        new RegExp(`^${good.installed} answers InstallSnapshotRecv@${good.installed}:\\d+ \\(line \\d+\\) \\(snapshot 5 of term 1\\) with success, but it neither held index 5 before .* nor restores a snapshot of index 5 or beyond after it, before its next Apply$`),
      );
      // Its first Apply is 6: rule 3 only notes a trace that starts above 1.
      expect(ruleOf(report, 'state-machine-safety').note).toContain(`${good.installed}'s first Apply in the trace is index 6`);
    });

    it('a fast-forward from a follower whose log never held the entry fails install-snapshot only', () => {
      const dir = mutate((run) => {
        const recv = eventOf(run.records, good.fastForwarded, 'AppendEntriesRecv', (r) => (r.body.entries as unknown[]).length === 5);
        recv.body.entries = (recv.body.entries as { index: number }[]).filter((e) => e.index !== 5);
      });
      const report = expectFails(dir, ['install-snapshot']);
      expect(messages(report, 'install-snapshot')).toMatch(new RegExp(`^${good.fastForwarded} answers .*\\(snapshot 5 of term 1\\) with success, but it neither held index 5`));
    });

    it('an answer whose life or trace ends before the state machine moves again is only noted; one followed by an Apply fails', () => {
      const L = 'server0';
      const F = 'server1';
      const exchange: TraceRecord[] = [
        { host: L, traceId: '', tag: 'InstallSnapshot', body: { term: 1, leaderId: L, to: F, index: 5, snapshotTerm: 1 }, clock: { [L]: 1 } },
        { host: F, traceId: '', tag: 'InstallSnapshotRecv', body: { term: 1, leaderId: L, to: F, index: 5, snapshotTerm: 1 }, clock: { [L]: 1, [F]: 1 } },
        { host: F, traceId: '', tag: 'InstallSnapshotRes', body: { success: true, serverId: F, to: L, term: 1, index: 5, matchIndex: 5 }, clock: { [L]: 1, [F]: 2 } },
      ];
      const then = (...more: [string, Record<string, unknown>][]) =>
        installSnapshotRule(traceOf([...exchange, ...more.map(([tag, body], k) => ({ host: F, traceId: '', tag, body, clock: { [L]: 1, [F]: 3 + k } }))]));
      // The trace ends while the snapshot is persisted: nothing to judge.
      expect(then().status).toBe('PASS');
      expect(then().note).toContain('1 whose life or trace ended before the state machine moved again');
      // The follower dies before restoring (the answer never left); its next life applies from its own log.
      expect(then(['ServerStart', { serverId: F }], ['Apply', { command: 'noop', term: 1, index: 1 }]).status).toBe('PASS');
      // The same Apply in the life that answered: the answer claimed what the follower did not hold.
      const failed = then(['Apply', { command: 'noop', term: 1, index: 1 }]);
      expect(failed.offenders.map((o) => o.message)).toEqual([expect.stringMatching(/^server1 answers InstallSnapshotRecv@server1:1 .* with success, but it neither held index 5/)]);
      // A restore of 5 after the restart counts as the install.
      const restored = then(['ServerStart', { serverId: F }], ['SnapshotRestored', { serverId: F, index: 5, term: 1 }]);
      expect(restored.note).toContain('1 restored');
    });

    it('an InstallSnapshotRecv that no InstallSnapshot explains fails install-snapshot only', () => {
      const dir = mutate((run) => {
        eventOf(run.records, good.installed, 'InstallSnapshotRecv').body.snapshotTerm = 2;
      });
      const report = expectFails(dir, ['install-snapshot']);
      expect(messages(report, 'install-snapshot')).toBe(
        `InstallSnapshotRecv on ${good.installed} (term 1, snapshot 5 of term 2): no InstallSnapshot of it from ${good.leader} to ${good.installed} happens before it`,
      );
    });

    it('an InstallSnapshotResRecv that no InstallSnapshotRes explains fails install-snapshot only', () => {
      const dir = mutate((run) => {
        eventOf(run.records, good.leader, 'InstallSnapshotResRecv', (r) => r.body.serverId === good.installed).body.matchIndex = 6;
      });
      const report = expectFails(dir, ['install-snapshot']);
      expect(messages(report, 'install-snapshot')).toBe(
        `InstallSnapshotResRecv on ${good.leader} (snapshot 5, success true): no InstallSnapshotRes of it from ${good.installed} to ${good.leader} happens before it`,
      );
    });
  });
});
