import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commitBeforeApplyRule } from '../../tracing/check/rule-commit-apply.ts';
import { formatReport, runChecks } from '../../tracing/check/report.ts';
import { loadRun } from '../../tracing/check/load.ts';
import { Trace } from '../../tracing/check/trace.ts';
import { failingRules, mutateRun } from './mutate.ts';

/**
 * A real run (fixtures/run-after-crash: trace.jsonl, history.json, meta.json of `raftkv
 * cluster up --nodes 5` over the data of a run whose supervisor was killed -9, one put and
 * one get). The new leader (server2) recovered commit index 13 from its disk; server0, the
 * old leader, whose disk said 0, applied 1..13 on its first heartbeat, before the new
 * leader committed anything in its own term. Before RaftStart carried the recovered commit
 * index, commit-before-apply failed this correct run.
 */
const RUN = fileURLToPath(new URL('./fixtures/run-after-crash/', import.meta.url));

describe('commit-before-apply on a real run over a crashed run\'s data', () => {
  it('passes every rule, the early Applies counted as recovered at a start', () => {
    const report = runChecks(mutateRun(RUN, () => {}));
    expect(failingRules(report), formatReport(report)).toEqual([]);
    expect(report.results.find((r) => r.rule === 'commit-before-apply')!.note).toMatch(/\d+ Applies of indexes a server recovered as committed at its start/);
  });

  it('fails it without the recovered commit index (the trace as RaftStart recorded it before)', () => {
    const dir = mutateRun(RUN, (run) => {
      for (const r of run.records) if (r.tag === 'RaftStart') delete r.body.commitIndex;
    });
    const offenders = commitBeforeApplyRule(new Trace(loadRun(dir))).offenders;
    expect(offenders.length).toBeGreaterThan(0);
    for (const o of offenders) expect(o.message).toMatch(/^Apply of index \d+ on server0, but no server recorded a Commit of index \d+$/);
  });

  it('fails the Applies above what the leader recovered, when it recovered less', () => {
    const leaderStart = (records: { tag: string; host: string; body: Record<string, unknown> }[]) =>
      records.find((r) => r.tag === 'RaftStart' && Number(r.body.commitIndex) > 0 && records.some((e) => e.tag === 'LeaderElected' && e.host === r.host))!;
    const dir = mutateRun(RUN, (run) => {
      // Every server's start recovered at most 5, as if the earlier run had committed less.
      for (const r of run.records) if (r.tag === 'RaftStart' && Number(r.body.commitIndex) > 5) r.body.commitIndex = 5;
    });
    const recovered = Number(leaderStart(loadRun(RUN).records).body.commitIndex);
    const failed = commitBeforeApplyRule(new Trace(loadRun(dir))).offenders.map((o) => Number(/index (\d+) on/.exec(o.message)![1]));
    expect(failed.length).toBeGreaterThan(0);
    expect(Math.min(...failed)).toBe(6);
    expect(Math.max(...failed)).toBeLessThanOrEqual(recovered);
  });
});
