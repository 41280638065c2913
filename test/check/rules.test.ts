import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMain } from '../../src/cli/check-command.ts';
import { LoadError, loadRun } from '../../tracing/check/load.ts';
import { linearizabilityWith } from '../../tracing/check/rule-linearizability.ts';
import { formatReport, runChecks, type CheckReport } from '../../tracing/check/report.ts';
import { GENERAL_RULES } from '../../tracing/check/rules.ts';
import { noLeaderBeforeStarted } from '../../tracing/check/scenario-rules.ts';
import { result, Trace } from '../../tracing/check/trace.ts';
import type { TraceRecord } from '../../tracing/record.ts';
import { formatShiViz } from '../../tracing/shiviz.ts';
import { produceGoodRun, type GoodRun } from './good-run.ts';
import { applyBeforeCommit, elections, hostRecords, failingRules as failing, mutateRun, readRun, rewriteCommand, sameKeyWrites, swapContent, type RunFiles } from './mutate.ts';

const execFileP = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let good: GoodRun;
const temps: string[] = [];

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-check-good-'));
  temps.push(dir);
  good = await produceGoodRun(path.join(dir, 'run'));
}, 120_000);

afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function mutate(change: (run: RunFiles) => void, opts?: { keepShiviz?: boolean }): string {
  const dir = mutateRun(good.dir, change, opts);
  temps.push(dir);
  return dir;
}

const ruleOf = (report: CheckReport, rule: string) => report.results.find((r) => r.rule === rule)!;

/**
 * Runs the checker on `dir` and expects exactly `rules` to FAIL, plus any of `mayAlso`
 * (the report is the failure message).
 */
function expectFails(dir: string, rules: string[], mayAlso: string[] = []): CheckReport {
  const report = runChecks(dir);
  expect(failing(report).filter((r) => !mayAlso.includes(r)), formatReport(report)).toEqual([...rules].sort());
  expect(report.ok).toBe(false);
  return report;
}

const byTrace = (records: TraceRecord[], traceId: string) => records.filter((r) => r.traceId === traceId);
const tagOf = (records: TraceRecord[], tag: string) => records.filter((r) => r.tag === tag);

/** A put that went client -> follower -> leader and back, once, with no retry. */
function forwardedPut(records: TraceRecord[]): string {
  const ids = [...new Set(tagOf(records, 'PutFwd').map((r) => r.traceId))];
  const id = ids.find((t) => {
    const ev = byTrace(records, t);
    const n = (tag: string) => ev.filter((e) => e.tag === tag).length;
    return n('PutSend') === 1 && n('PutFwd') === 1 && n('RaftPutReq') === 1 && n('PutResultFwd') === 1 && ev.some((e) => e.tag === 'PutResultRecvd' && e.body.error === undefined);
  });
  if (!id) throw new Error('the good run has no cleanly forwarded put');
  return id;
}

describe('raftkv check on a real traced run (3 servers, two clients, a forwarded path, leader killed and restarted)', () => {
  it('the good run has what the mutations need, and every rule passes on it', () => {
    const { records } = readRun(good.dir);
    expect(tagOf(records, 'PutFwd').length).toBeGreaterThan(0);
    expect(tagOf(records, 'GetFwd').length).toBeGreaterThan(0);
    expect(elections(records).length).toBeGreaterThanOrEqual(2);
    expect(records.filter((r) => r.host === good.firstLeader && r.tag === 'ServerStart')).toHaveLength(2);
    const report = runChecks(good.dir);
    expect(failing(report), formatReport(report)).toEqual([]);
    expect(report.results.map((r) => r.rule)).toEqual(GENERAL_RULES.map((r) => r.name));
    for (const r of report.results) expect(r.status, `${r.rule}: ${r.note ?? ''}`).toBe('PASS');
    expect(report.ok).toBe(true);
    expect(ruleOf(report, 'election-safety').note).toContain('meta.json');
  });

  it('without meta.json it counts majorities against the servers in the trace, and says so', () => {
    const dir = mutate((run) => {
      run.meta = null;
    });
    const report = runChecks(dir);
    expect(failing(report)).toEqual([]);
    expect(ruleOf(report, 'election-safety').note).toContain('no meta.json');
    expect(ruleOf(report, 'files').note).toContain('no meta.json');
  });

  describe('files and shiviz', () => {
    it('an unreadable line of trace.jsonl fails files only', () => {
      const dir = mutate(() => undefined);
      appendFileSync(path.join(dir, 'trace.jsonl'), '{"host": "server0", "tag": \n');
      const report = expectFails(dir, ['files']);
      expect(ruleOf(report, 'files').offenders[0].line).toBeGreaterThan(1);
    });

    it('a missing history.json fails files and linearizability', () => {
      const dir = mutate(() => undefined);
      rmSync(path.join(dir, 'history.json'));
      const report = expectFails(dir, ['files', 'linearizability']);
      expect(ruleOf(report, 'history-trace').status).toBe('SKIP');
    });

    it('a counter that skips (in both files) fails shiviz only', () => {
      // A client's last event (KvslibStop) is named in no other clock, so only the gap shows.
      const dir = mutate((run) => {
        const own = hostRecords(run.records, 'ann');
        own[own.length - 1].clock.ann += 1;
      });
      const report = expectFails(dir, ['shiviz']);
      expect(ruleOf(report, 'shiviz').offenders.some((o) => o.message.includes('counter-contiguous'))).toBe(true);
    });

    it('shiviz.log missing an event that trace.jsonl has fails shiviz only', () => {
      const dir = mutate(() => undefined);
      const { records } = readRun(good.dir);
      const dropped = records.find((r) => r.tag === 'RaftStart')!;
      writeFileSync(path.join(dir, 'shiviz.log'), formatShiViz(records.filter((r) => r !== dropped)));
      const report = expectFails(dir, ['shiviz']);
      expect(ruleOf(report, 'shiviz').offenders.some((o) => o.message.includes('not in shiviz.log') && o.host === dropped.host)).toBe(true);
    });
  });

  describe('lifecycle', () => {
    it('a client event after KvslibStop fails lifecycle only', () => {
      const dir = mutate((run) => {
        const ann = hostRecords(run.records, 'ann');
        swapContent(ann[ann.length - 1], ann[ann.length - 2]);
      });
      const report = expectFails(dir, ['lifecycle']);
      expect(ruleOf(report, 'lifecycle').offenders.map((o) => o.message).join('\n')).toMatch(/recorded after KvslibStop@ann/);
    });

    it('a server event before ServerStart fails lifecycle only', () => {
      const dir = mutate((run) => {
        const own = hostRecords(run.records, good.follower);
        expect(own.slice(0, 2).map((r) => r.tag)).toEqual(['ServerStart', 'RaftStart']);
        swapContent(own[0], own[1]);
      });
      const report = expectFails(dir, ['lifecycle']);
      expect(ruleOf(report, 'lifecycle').offenders[0]).toMatchObject({ host: good.follower, message: expect.stringMatching(/RaftStart recorded before/) });
    });
  });

  describe('rule 1: operation order', () => {
    it('a Send before its Start (two clocks swapped) fails operation-order only', () => {
      let id = '';
      const dir = mutate((run) => {
        id = forwardedPut(run.records);
        const start = run.records.find((r) => r.traceId === id && r.tag === 'PutStart')!;
        const send = run.records.find((r) => r.traceId === id && r.tag === 'PutSend')!;
        expect(send.clock.ann - start.clock.ann).toBe(1);
        const clock = start.clock;
        start.clock = send.clock;
        send.clock = clock;
      });
      const report = expectFails(dir, ['operation-order']);
      const messages = ruleOf(report, 'operation-order').offenders.map((o) => o.message).join('\n');
      expect(messages).toContain('PutSend before PutStart');
      expect(messages).toContain(`${id}: no chain`);
    });

    it('a dropped RaftPutReq fails operation-order only', () => {
      let id = '';
      const dir = mutate((run) => {
        id = forwardedPut(run.records);
        // Relabelled rather than deleted, so the clocks stay valid for ShiViz.
        run.records.find((r) => r.traceId === id && r.tag === 'RaftPutReq')!.tag = 'Dropped';
      });
      const report = expectFails(dir, ['operation-order']);
      const messages = ruleOf(report, 'operation-order').offenders.map((o) => o.message).join('\n');
      expect(messages).toContain('PutResult on');
      expect(messages).toMatch(new RegExp(`${id}: no chain .*no RaftPutReq`));
    });

    it('a dropped PutFwd fails operation-order only: the leader Recv has no cause, the ResultFwd no Fwd', () => {
      const dir = mutate((run) => {
        const id = forwardedPut(run.records);
        run.records.find((r) => r.traceId === id && r.tag === 'PutFwd')!.tag = 'Dropped';
      });
      const report = expectFails(dir, ['operation-order']);
      const messages = ruleOf(report, 'operation-order').offenders.map((o) => o.message).join('\n');
      expect(messages).toMatch(/PutRecv on server\d: no PutSend or PutFwd/);
      expect(messages).toMatch(/PutResultFwd on server\d without a PutFwd/);
    });

    it('a second ResultRecvd for one Start fails operation-order only', () => {
      const dir = mutate((run) => {
        const ben = hostRecords(run.records, 'ben');
        const first = ben.find((x) => x.traceId === 'ben:1' && x.tag === 'GetResultRecvd')!;
        // ben talks to the leader, which is killed: he reconnects to another server later.
        const conn = ben.find((r) => r.tag === 'NewServerConnection' && r.clock.ben > first.clock.ben);
        expect(conn).toBeDefined();
        Object.assign(conn!, { tag: 'GetResultRecvd', traceId: 'ben:1', body: { ...first.body } });
      });
      const report = expectFails(dir, ['operation-order']);
      expect(ruleOf(report, 'operation-order').offenders.map((o) => o.message).join('\n')).toContain('a second GetResultRecvd for ben:1');
    });
  });

  describe('rule 2: election safety', () => {
    it('two leaders elected in one term fails election-safety (and vote-safety: the second went back a term)', () => {
      const dir = mutate((run) => {
        const [first, second] = elections(run.records);
        second.body.term = first.body.term;
      });
      // The second winner asked for votes in its own, later term: its term goes back too.
      const report = expectFails(dir, ['election-safety', 'vote-safety']);
      expect(ruleOf(report, 'election-safety').offenders.map((o) => o.message).join('\n')).toMatch(/a second LeaderElected in term \d+/);
    });

    it('a leader without granted votes fails election-safety only', () => {
      let winner = '';
      const dir = mutate((run) => {
        const [first] = elections(run.records);
        winner = first.host;
        for (const r of tagOf(run.records, 'RequestVoteRes')) {
          if (r.body.candidateId === winner && r.body.term === first.body.term && r.body.preVote !== true) r.body.voteGranted = false;
        }
      });
      const report = expectFails(dir, ['election-safety']);
      expect(ruleOf(report, 'election-safety').offenders[0]).toMatchObject({ host: winner, message: expect.stringContaining('with 1 of 3 votes') });
    });

    it('pre-votes do not count as votes', () => {
      const dir = mutate((run) => {
        const [first] = elections(run.records);
        for (const r of tagOf(run.records, 'RequestVoteRes')) {
          if (r.body.candidateId === first.host && r.body.term === first.body.term) r.body.preVote = true;
        }
      });
      expectFails(dir, ['election-safety']);
    });

    it('the same votes are not a majority of a configured 7-server cluster', () => {
      const dir = mutate((run) => {
        run.meta = { servers: [...good.servers, 'server3', 'server4', 'server5', 'server6'] };
      });
      const report = expectFails(dir, ['election-safety']);
      expect(ruleOf(report, 'election-safety').note).toContain('majority 4 of 7');
    });
  });

  describe('rule 3: state machine safety', () => {
    // Applying index i+1 early may also come before i+1 was committed (then commit-before-apply fails too).
    it('an Apply at a repeated index (a noop index moved up) fails state-machine-safety', () => {
      const dir = mutate((run) => {
        // The noop of the second term: not the follower's first Apply.
        const noop = hostRecords(run.records, good.follower).filter((r) => r.tag === 'Apply' && r.body.command === 'noop').at(-1)!;
        expect(Number(noop.body.index)).toBeGreaterThan(1);
        noop.body.index = Number(noop.body.index) + 1;
      });
      const report = expectFails(dir, ['state-machine-safety'], ['commit-before-apply']);
      const messages = ruleOf(report, 'state-machine-safety').offenders.map((o) => o.message).join('\n');
      expect(messages).toMatch(/skips from \d+ to \d+/);
      expect(messages).toMatch(/applies index \d+ again/);
    });

    it('two servers applying different commands at one index fails state-machine-safety only', () => {
      let index = 0;
      const dir = mutate((run) => {
        const noop = run.records.find((r) => r.tag === 'Apply' && r.body.command === 'noop' && r.host === good.follower)!;
        noop.body.command = 'noop-but-different';
        index = Number(noop.body.index);
      });
      const report = expectFails(dir, ['state-machine-safety']);
      expect(ruleOf(report, 'state-machine-safety').offenders.map((o) => o.message).join('\n')).toContain(`of index ${index} names`);
    });

    it('an extra Apply at a skipped index fails state-machine-safety', () => {
      const dir = mutate((run) => {
        const own = hostRecords(run.records, good.follower);
        const applies = own.filter((r) => r.tag === 'Apply');
        // An AppendEntriesRes between two Applies becomes an Apply two indexes ahead.
        for (let i = 0; i + 1 < applies.length; i++) {
          const between = own.find((r) => r.tag === 'AppendEntriesRes' && r.clock[good.follower] > applies[i].clock[good.follower] && r.clock[good.follower] < applies[i + 1].clock[good.follower]);
          if (between) {
            Object.assign(between, { tag: 'Apply', traceId: '', body: { command: 'noop', term: applies[i].body.term, index: Number(applies[i].body.index) + 2 } });
            return;
          }
        }
        throw new Error('no AppendEntriesRes between two Applies');
      });
      const report = expectFails(dir, ['state-machine-safety'], ['commit-before-apply']);
      expect(ruleOf(report, 'state-machine-safety').offenders.map((o) => o.message).join('\n')).toMatch(new RegExp(`${good.follower} skips from`));
    });
  });

  describe('commit before apply', () => {
    it("an Apply before its index's Commit (on the leader) fails commit-before-apply only", () => {
      const dir = mutate((run) => {
        applyBeforeCommit(run);
      });
      const report = expectFails(dir, ['commit-before-apply']);
      expect(ruleOf(report, 'commit-before-apply').offenders[0].message).toMatch(/Apply of index 1 on server\d does not happen after any Commit of index 1/);
    });
  });

  describe('commit before apply, on a run over existing data', () => {
    /** The follower applies index 1 as it starts, before hearing from anyone (its RaftStart becomes that Apply). */
    function applyAtStart(run: RunFiles): void {
      const own = hostRecords(run.records, good.follower);
      const apply = own.find((r) => r.tag === 'Apply' && r.body.index === 1)!;
      const early = own.find((r) => r.tag === 'RaftStart')!;
      expect(Object.keys(early.clock)).toEqual([good.follower]);
      Object.assign(early, { tag: 'Apply', traceId: apply.traceId, body: { ...apply.body } });
      apply.tag = 'Dropped';
    }

    it("an Apply at a server's start, before it heard from anyone, is an entry committed before the trace: noted, not failed", () => {
      const dir = mutate(applyAtStart);
      const report = runChecks(dir);
      expect(failing(report), formatReport(report)).toEqual([]);
      expect(ruleOf(report, 'commit-before-apply').note).toContain("1 Applies at a server's start, before it heard from anyone");
    });

    it('... unless meta.json says the run began with empty data: then it fails commit-before-apply only', () => {
      const dir = mutate((run) => {
        applyAtStart(run);
        run.meta = { ...run.meta, existingData: false };
      });
      const report = expectFails(dir, ['commit-before-apply']);
      expect(ruleOf(report, 'commit-before-apply').offenders[0]).toMatchObject({ host: good.follower, message: expect.stringMatching(/^Apply of index 1 on server\d does not happen after any Commit of index 1/) });
    });
  });

  describe('rule 4: client order', () => {
    it("a client's OpIds out of call order fails client-order only", () => {
      const dir = mutate((run) => {
        const starts = hostRecords(run.records, 'ann').filter((r) => r.tag.endsWith('Start') && r.tag !== 'KvslibStart');
        const [a, b] = [starts[1], starts[2]];
        [a.body.opId, b.body.opId] = [b.body.opId, a.body.opId];
      });
      const report = expectFails(dir, ['client-order']);
      expect(ruleOf(report, 'client-order').offenders.map((o) => o.message).join('\n')).toMatch(/opId 2 started after opId 3/);
    });

    it('a result carrying another OpId fails client-order only', () => {
      const dir = mutate((run) => {
        run.records.find((r) => r.traceId === 'ben:2' && r.tag.endsWith('ResultRecvd'))!.body.opId = 7;
      });
      const report = expectFails(dir, ['client-order']);
      expect(ruleOf(report, 'client-order').offenders[0].message).toContain('carries ben:7, its Start ben:2');
    });
  });

  describe("client key order: one client's operations on one key take effect in OpId order", () => {
    it('two writes of a client on one key that the log holds in the other OpId order fail client-key-order only', () => {
      let w!: ReturnType<typeof sameKeyWrites>;
      const dir = mutate((run) => {
        w = sameKeyWrites(run.records);
        // The log says the lower OpId came second: swap the OpIds the two commands carry.
        rewriteCommand(run.records, w.first.command, (c) => (c.opId = w.second.opId));
        rewriteCommand(run.records, w.second.command, (c) => (c.opId = w.first.opId));
      });
      const report = expectFails(dir, ['client-key-order']);
      const messages = ruleOf(report, 'client-key-order').offenders.map((o) => o.message);
      const key = w.key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      expect(messages.join('\n')).toMatch(new RegExp(`^${w.client}:${w.second.opId} \\w+\\(${key}\\) took effect at index \\d+, before ${w.client}:${w.first.opId} \\w+\\(${key}\\), an earlier OpId, at index \\d+`, 'm'));
      expect(ruleOf(report, 'client-key-order').offenders.every((o) => o.line !== null)).toBe(true);
    });

    it("a read answered from a state machine holding the client's later write, not its earlier one, fails client-key-order", () => {
      // ann: put(k1, v1), then get(k1) -> v1. Say in the log that put came from a later OpId.
      const dir = mutate((run) => {
        const put = run.history.find((h) => h.clientId === 'ann' && h.op.type === 'put' && h.op.key === 'k1' && h.output?.value === 'v1')!;
        const apply = run.records.find((r) => r.tag === 'Apply' && r.traceId === `ann:${put.opId}`)!;
        rewriteCommand(run.records, apply.body.command as string, (c) => (c.opId = 1000));
      });
      const report = expectFails(dir, ['client-key-order']);
      const messages = ruleOf(report, 'client-key-order').offenders.map((o) => o.message).join('\n');
      expect(messages).toMatch(/^ann:\d+ read k1 on server\d holding index \d+, but its later ann:1000 put\(k1\) had already taken effect at index \d+/m);
    });
  });

  describe('rule 5: linearizability', () => {
    /** The last successful get of k1 that began after put(k1, v2) returned: it must read v2. */
    function lateGet(run: RunFiles) {
      const put = run.history.find((h) => h.op.type === 'put' && h.op.value === 'v2' && h.output)!;
      const get = run.history.filter((h) => h.op.type === 'get' && h.op.key === 'k1' && h.output && h.call > put.return).at(-1)!;
      expect(get.output!.value).toBe('v2');
      return get;
    }

    it('a stale read (in history and trace alike) fails linearizability only, with a small counterexample', () => {
      let id = '';
      const dir = mutate((run) => {
        const get = lateGet(run);
        id = `${get.clientId}:${get.opId}`;
        get.output!.value = 'v1';
        run.records.find((r) => r.traceId === id && r.tag === 'GetResultRecvd')!.body.value = 'v1';
      });
      const report = expectFails(dir, ['linearizability']);
      const [offender] = ruleOf(report, 'linearizability').offenders;
      expect(offender.message).toContain('key "k1": not linearizable');
      expect(offender.message).toContain(`${id} get(k1)`);
      expect(offender.line).not.toBeNull(); // points at the get's Start in trace.jsonl
      const details = offender.details!.join('\n');
      expect(details).toContain('put(k1, "v1")');
      expect(details).toContain('put(k1, "v2")');
      expect(details).toMatch(/\* .*get\(k1\).*-> "v1"/);
      // Small: the two puts and the stale get suffice; other reads of k1 are dropped.
      expect(offender.details!.length - 1).toBe(3);
      expect(formatReport(report)).toContain('call +');
    });

    it('a key the search cannot decide within its budget makes the rule SKIP with a note, not PASS', () => {
      const r = linearizabilityWith({ budget: 1 })(new Trace(loadRun(good.dir)));
      expect(r.status).toBe('SKIP');
      expect(r.note).toContain('UNDECIDED within the search budget: ');
    });

    it('a value nobody wrote, changed only in history.json, fails linearizability and history-trace', () => {
      const dir = mutate((run) => {
        lateGet(run).output!.value = 'never-written';
      });
      const report = expectFails(dir, ['history-trace', 'linearizability']);
      expect(ruleOf(report, 'history-trace').offenders[0].message).toContain('history.json says "never-written"');
    });
  });

  describe('rule 6: exactly once', () => {
    it('a server executing one (clientId, opId) twice fails exactly-once only', () => {
      const dir = mutate((run) => {
        const applies = hostRecords(run.records, good.follower).filter((r) => r.tag === 'Apply' && typeof r.body.clientId === 'string' && r.body.duplicate !== true);
        const [a, b] = [applies[0], applies[1]];
        b.body.clientId = a.body.clientId;
        b.body.opId = a.body.opId;
      });
      const report = expectFails(dir, ['exactly-once']);
      expect(ruleOf(report, 'exactly-once').offenders[0].message).toMatch(new RegExp(`${good.follower} executes \\w+:\\d+ again`));
    });
  });

  describe('scenario rules', () => {
    it('extra rules run after the general ones; a failing or throwing one fails the run', () => {
      expect(runChecks(good.dir, [noLeaderBeforeStarted(2)]).ok).toBe(true);
      const strict = runChecks(good.dir, [noLeaderBeforeStarted(4)]);
      expect(failing(strict)).toEqual(['no-leader-before-4-started']);
      const custom = (trace: Trace) => result('leaders-only-servers', trace.events({ tag: 'LeaderElected', where: (e) => !trace.serverHosts().includes(e.host) }).map((e) => ({ host: e.host, clock: e.clock, line: e.line, message: 'not a server' })));
      const boom = { name: 'boom', check: (): never => { throw new Error('kaput'); } };
      const report = runChecks(good.dir, [custom, boom]);
      expect(report.results.slice(-2).map((r) => [r.rule, r.status])).toEqual([['leaders-only-servers', 'PASS'], ['boom', 'FAIL']]);
      expect(report.results.at(-1)!.offenders[0].message).toContain('kaput');
      expect(report.ok).toBe(false);
    });
  });

  describe('CLI: raftkv check <runDir>', () => {
    const cli = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await execFileP(process.execPath, ['--import', 'tsx', 'src/cli/check-command.ts', ...args], { cwd: ROOT });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };

    it('exits 0 on the good run, 1 on a broken one, 2 when trace.jsonl cannot be read', async () => {
      const broken = mutate((run) => {
        const [first, second] = elections(run.records);
        second.body.term = first.body.term;
      });
      const missing = path.join(mkdtempSync(path.join(os.tmpdir(), 'raftkv-check-empty-')), 'nothing');
      temps.push(path.dirname(missing));
      const [ok, bad, none] = await Promise.all([cli(good.dir), cli(broken), cli(missing)]);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/^PASS {2}linearizability \[rule 5\]/m);
      expect(bad.code, bad.stdout + bad.stderr).toBe(1);
      expect(bad.stdout).toMatch(/^FAIL {2}election-safety \[rule 2\]/m);
      // host:counter (its own clock entry), not the whole clock.
      expect(bad.stdout).toMatch(/^ {6}server\d:\d+ line \d+: a second LeaderElected in term/m);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain('no run directory');
    }, 60_000);

    it('checkMain: usage errors exit 2; the report goes to out', () => {
      const out: string[] = [];
      const err: string[] = [];
      const io = { out: (t: string) => out.push(t), err: (t: string) => err.push(t) };
      expect(checkMain([], io)).toBe(2);
      expect(checkMain(['a', 'b'], io)).toBe(2);
      expect(err.join('\n')).toContain('usage: raftkv check <runDir>');
      expect(checkMain([good.dir], io)).toBe(0);
      expect(out.join('\n')).toContain(`OK: ${GENERAL_RULES.length} rules, none failed`);
      expect(() => runChecks(path.join(good.dir, 'missing'))).toThrow(LoadError);
    });
  });
});
