import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenarioScript } from '../../scenarios/harness.ts';
import { SCENARIOS } from '../../scenarios/index.ts';
import type { ScenarioDef } from '../../scenarios/scenario.ts';
import { formatReport, runChecks, type CheckReport } from '../../tracing/check/report.ts';
import { GENERAL_RULES } from '../../tracing/check/rules.ts';
import type { HistoryEntry } from '../../tracing/history.ts';
import type { TraceRecord } from '../../tracing/record.ts';
import { applyBeforeCommit, elections, failingRules, hostRecords, mutateRun, rewriteCommand, sameKeyWrites, type RunFiles } from './mutate.ts';

/**
 * `raftkv check` on real scenario traces: every rule passes on the runs as they were
 * recorded, and a copy broken on purpose fails the rule it breaks and no other (the
 * general rules and the scenario's own).
 *
 * A representative set, not all 19: `npm run demo` (CI) runs and grades every scenario,
 * and each takes 8-15 s here, so all of them would make this one file several minutes on
 * two shared cores. The four cover what the rules distinguish: 04 pipelines puts and gets
 * on one key (client-key-order, linearizability), 11 restarts every server (lives,
 * durable terms and votes, state machines rebuilt silently), 15 installs snapshots
 * (SnapshotTaken/Restored, InstallSnapshot) and 17 changes membership while writing
 * (joint configurations, majorities of the configuration in force).
 */

const NAMES = ['04-async-order', '11-full-restart-durability', '15-snapshot-install', '17-live-join'];
const runs = new Map<string, { def: ScenarioDef; dir: string }>();
const temps: string[] = [];

beforeAll(async () => {
  const tracesDir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-check-scenarios-'));
  temps.push(tracesDir);
  for (const name of NAMES) {
    const def = SCENARIOS.find((s) => s.name === name)!;
    // A scenario whose script times out on a loaded machine (two cores shared by whole
    // clusters) is run once more: the mutations need the events a complete run has.
    for (let attempt = 1; ; attempt++) {
      const log: string[] = [];
      const run = await runScenarioScript(def.name, def.size, (ctx) => def.run(ctx), (line) => log.push(line), def.config, tracesDir);
      const failed = run.expectations.filter((e) => !e.pass);
      if (!run.error && failed.length === 0) {
        runs.set(name, { def, dir: run.runDir });
        break;
      }
      const why = `scenario ${name} did not complete as scripted (attempt ${attempt}):\n${run.error ?? ''}\n${failed.map((e) => `${e.name}: ${e.detail}`).join('\n')}\n${log.join('\n')}`;
      if (attempt === 2) throw new Error(why);
      console.warn(why);
    }
  }
}, 420_000);

afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function check(name: string, dir = runs.get(name)!.dir): CheckReport {
  return runChecks(dir, runs.get(name)!.def.traceRules);
}

const tagged = (records: TraceRecord[], tag: string) => records.filter((r) => r.tag === tag);
const isGrant = (r: TraceRecord) => r.tag === 'RequestVoteRes' && r.body.voteGranted === true && r.body.preVote !== true;
/** A host's records from its last ServerStart before `r` on. */
function lifeOf(records: TraceRecord[], r: TraceRecord): TraceRecord[] {
  const own = hostRecords(records, r.host);
  const start = own.filter((x) => x.tag === 'ServerStart' && x.clock[r.host] <= r.clock[r.host]).at(-1);
  const next = own.find((x) => x.tag === 'ServerStart' && x.clock[r.host] > r.clock[r.host]);
  return own.filter((x) => (!start || x.clock[r.host] >= start.clock[r.host]) && (!next || x.clock[r.host] < next.clock[r.host]));
}

/** A successful client write with no retry: one Apply per server at one index, answered once. */
function cleanPut(records: TraceRecord[]): string {
  const id = tagged(records, 'PutResultRecvd').find((r) => r.body.error === undefined && records.filter((x) => x.traceId === r.traceId && x.tag === 'RaftPutReq').length === 1)?.traceId;
  if (!id) throw new Error('no cleanly answered write');
  return id;
}

/** The last successful get of a key that returned a value now returns "" (as if the write were lost). */
function loseLastWrite(run: RunFiles): void {
  const get = run.history.filter((h) => h.op.type === 'get' && h.error === undefined && h.output!.value !== '').at(-1)!;
  for (const r of run.records) if (r.traceId === `${get.clientId}:${get.opId}` && r.tag.startsWith('GetResult')) r.body.value = '';
  get.output!.value = '';
}

interface Mutation {
  what: string;
  /** The rules that must fail, and only they (plus `mayAlso`). */
  fails: string[];
  /** Rules that may fail too, and why (a mutation that breaks two rules' premises at once). */
  mayAlso?: string[];
  on: string[];
  change(run: RunFiles): void;
}

const ALL = NAMES;

const MUTATIONS: Mutation[] = [
  {
    what: 'a clock counter corrupted (a client skips a counter, in both files)',
    fails: ['shiviz'],
    on: ALL,
    change(run) {
      // A client's last event (KvslibStop) is named in no other clock: only the gap shows.
      const client = [...new Set(tagged(run.records, 'KvslibStop').map((r) => r.host))][0];
      hostRecords(run.records, client).at(-1)!.clock[client] += 1;
    },
  },
  {
    what: 'a server votes twice in one term (a later AppendEntriesRes of its life becomes a grant to another candidate)',
    fails: ['vote-safety'],
    on: ALL,
    change(run) {
      const servers = [...new Set(tagged(run.records, 'ServerStart').map((r) => r.host))];
      for (const g of run.records.filter(isGrant)) {
        const later = lifeOf(run.records, g).find((x) => x.tag === 'AppendEntriesRes' && x.clock[g.host] > g.clock[g.host]);
        const other = servers.find((s) => s !== g.host && s !== g.body.candidateId);
        if (!later || !other) continue;
        Object.assign(later, { tag: 'RequestVoteRes', traceId: '', body: { voteGranted: true, serverId: g.host, candidateId: other, term: g.body.term, preVote: false } });
        return;
      }
      throw new Error('no granted vote followed by an AppendEntriesRes in its life');
    },
  },
  {
    what: "a server's term goes back (an AppendEntriesRes stamped a term below one it stamped before)",
    fails: ['vote-safety'],
    on: ALL,
    change(run) {
      for (const host of [...new Set(tagged(run.records, 'AppendEntriesRes').map((r) => r.host))]) {
        const res = hostRecords(run.records, host).filter((r) => r.tag === 'AppendEntriesRes' && Number(r.body.term) >= 1);
        // Not the first of its life: the host stamped this term before, so going below it is going back.
        const victim = res.find((r, i) => i > 0 && lifeOf(run.records, r).includes(res[i - 1]) && res[i - 1].body.term === r.body.term);
        if (!victim) continue;
        victim.body.term = Number(victim.body.term) - 1;
        return;
      }
      throw new Error('no two AppendEntriesRes of one term in one life');
    },
  },
  {
    what: 'two leaders elected in one term',
    fails: ['election-safety', 'vote-safety'], // the second winner asked for votes in its own, later term: its term goes back too
    mayAlso: ['conf-change'], // 17: the second winner's proposals no longer come from the leader of their term
    on: ['11-full-restart-durability', '17-live-join'],
    change(run) {
      const [first, second] = elections(run.records);
      second.body.term = first.body.term;
    },
  },
  {
    what: "an Apply before its index's Commit (the leader's Commit and Apply of one index swapped)",
    fails: ['commit-before-apply'],
    on: ALL,
    change(run) {
      applyBeforeCommit(run);
    },
  },
  {
    what: 'two servers apply different commands at one index',
    fails: ['state-machine-safety'],
    on: ALL,
    change(run) {
      const noop = run.records.find((r) => r.tag === 'Apply' && r.body.command === 'noop' && r.host !== elections(run.records)[0].host)!;
      noop.body.command = 'noop-but-different';
    },
  },
  {
    what: 'a write executed twice on one server (a second Apply carries its client and OpId)',
    fails: ['exactly-once'],
    on: ALL,
    change(run) {
      const leader = elections(run.records)[0].host;
      const applies = hostRecords(run.records, leader).filter((r) => r.tag === 'Apply' && typeof r.body.clientId === 'string' && r.body.duplicate !== true);
      applies[1].body.clientId = applies[0].body.clientId;
      applies[1].body.opId = applies[0].body.opId;
    },
  },
  {
    what: "a client's two writes on one key held by the log in the other OpId order",
    fails: ['client-key-order'],
    on: ['04-async-order'],
    change(run) {
      const w = sameKeyWrites(run.records);
      rewriteCommand(run.records, w.first.command, (c) => (c.opId = w.second.opId));
      rewriteCommand(run.records, w.second.command, (c) => (c.opId = w.first.opId));
    },
  },
  {
    what: 'an acknowledged write lost: the last read of a key sees it absent, though the reader itself wrote it (history and trace alike)',
    // 04's gets were all called at once with the puts (kvslib orders them per key), so no
    // real-time order shows the loss: only the client's own order on the key does.
    fails: ['client-key-order'],
    on: ['04-async-order'],
    change: loseLastWrite,
  },
  {
    what: 'an acknowledged write lost: the last read of a key sees it absent, though the reader itself wrote it (history and trace alike)',
    // 11 reads back after the restart, long after the writes returned: both rules see it.
    fails: ['client-key-order', 'linearizability'],
    on: ['11-full-restart-durability'],
    change: loseLastWrite,
  },
  {
    what: 'a read of a value nobody wrote, by a client that never wrote that key (history and trace alike)',
    fails: ['linearizability'],
    on: ['04-async-order', '15-snapshot-install', '17-live-join'],
    change(run) {
      const wrote = (client: string, key: string) =>
        run.history.some((h) => h.clientId === client && (h.op.type === 'mput' ? h.op.pairs.some((p) => p.key === key) : h.op.type !== 'get' && h.op.type !== 'mget' && h.op.key === key));
      const keysOf = (h: HistoryEntry) => (h.op.type === 'get' ? [h.op.key] : h.op.type === 'mget' ? h.op.keys : []);
      const get = run.history.find((h) => keysOf(h).length > 0 && h.error === undefined && !keysOf(h).some((k) => wrote(h.clientId, k)));
      if (!get) throw new Error('no read of keys its client never wrote');
      // One value of it: a get's, or an mget's first (the trace carries an mget's values as JSON).
      if (get.op.type === 'get') {
        for (const r of run.records) if (r.traceId === `${get.clientId}:${get.opId}` && r.tag.startsWith('GetResult')) r.body.value = 'never-written';
        get.output!.value = 'never-written';
      } else get.output!.values![0] = 'never-written';
    },
  },
  {
    what: 'a dropped RaftPutReq (the leader answered a write it never proposed)',
    fails: ['operation-order'],
    on: ALL,
    change(run) {
      const id = cleanPut(run.records);
      run.records.find((r) => r.traceId === id && r.tag === 'RaftPutReq')!.tag = 'Dropped';
    },
  },
  {
    what: 'a result carrying another OpId',
    fails: ['client-order'],
    on: ALL,
    change(run) {
      const r = tagged(run.records, 'PutResultRecvd')[0];
      r.body.opId = Number(r.body.opId) + 1000;
    },
  },
  {
    what: 'a snapshot that names the wrong term for its index',
    fails: ['snapshot-safety'],
    mayAlso: ['install-snapshot'], // a follower installing it then holds what the leader's log does not say
    on: ['15-snapshot-install'],
    change(run) {
      const taken = tagged(run.records, 'SnapshotTaken')[0];
      taken.body.term = Number(taken.body.term) + 5;
    },
  },
  {
    what: 'a ConfChangeCommitted naming a configuration its proposal did not make',
    fails: ['conf-change'],
    mayAlso: ['election-safety'], // later elections are counted against the configuration it names
    on: ['17-live-join'],
    change(run) {
      // The first, so that the scenario's own rule on the final configuration still holds.
      const c = tagged(run.records, 'ConfChangeCommitted')[0];
      c.body.voters = [...(c.body.voters as string[]), 'server99'];
    },
  },
];

describe('raftkv check on real scenario traces', () => {
  it.each(NAMES)('%s: every rule passes, general and the scenario\'s own; keys start absent', (name) => {
    const report = check(name);
    expect(failingRules(report), formatReport(report)).toEqual([]);
    expect(report.results.slice(0, GENERAL_RULES.length).map((r) => r.rule)).toEqual(GENERAL_RULES.map((r) => r.name));
    const lin = report.results.find((r) => r.rule === 'linearizability')!;
    expect(lin.status, lin.note).toBe('PASS');
    expect(lin.note).not.toMatch(/initial values unknown/);
  });

  it('04: client-key-order judged every pipelined put and get of the burst on k1', () => {
    const r = check('04-async-order').results.find((x) => x.rule === 'client-key-order')!;
    expect(r.note).toMatch(/^([6-9]|\d{2,}) executed writes, ([6-9]|\d{2,}) reads checked/);
  });

  const cases = MUTATIONS.flatMap((m) => m.on.map((name) => ({ name, m })));
  it.each(cases.map((c) => [`${c.name}: ${c.m.what} fails ${c.m.fails.join(' + ')}`, c] as const))('%s', (_title, { name, m }) => {
    const dir = mutateRun(runs.get(name)!.dir, (run) => m.change(run));
    temps.push(dir);
    const report = check(name, dir);
    expect(failingRules(report).filter((r) => !(m.mayAlso ?? []).includes(r)), formatReport(report)).toEqual([...m.fails].sort());
    for (const rule of m.fails) expect(report.results.find((r) => r.rule === rule)!.offenders.length).toBeGreaterThan(0);
  });
});
