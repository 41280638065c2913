import { describe, expect, it } from 'vitest';
import { commitBeforeApplyRule } from '../../tracing/check/rule-commit-apply.ts';
import { Trace } from '../../tracing/check/trace.ts';
import type { JsonlRecord } from '../../tracing/shiviz.ts';

/**
 * A run over an earlier run's data: the new leader's disk held indexes 2..3 committed (no
 * Commit of them in this trace), a follower's lagged, and it applies them once it hears the
 * leader's commit index, which came with the leader's Commit of index 4.
 */
function run(opts: { existingData?: boolean; followerHeard: 'leader' | 'other' }): Trace {
  const L = (n: number, tag: string, body: Record<string, unknown>): Omit<JsonlRecord, 'line'> => ({ host: 'L', traceId: '', tag, body, clock: { L: n } });
  const heard: Record<string, number> = opts.followerHeard === 'leader' ? { L: 3 } : { X: 1 };
  const F = (n: number, tag: string, body: Record<string, unknown>): Omit<JsonlRecord, 'line'> => ({ host: 'F', traceId: '', tag, body, clock: { ...heard, F: n } });
  const rs = [
    ...(opts.followerHeard === 'other' ? [{ host: 'X', traceId: '', tag: 'Hello', body: {}, clock: { X: 1 } }] : []),
    L(1, 'RaftStart', { serverId: 'L' }),
    L(2, 'Commit', { term: 2, index: 4, operation: 'noop' }),
    L(3, 'AppendEntries', { term: 2, leaderId: 'L', to: 'F', leaderCommit: 4, entries: [] }),
    F(1, 'AppendEntriesRecv', { term: 2, leaderId: 'L', to: 'F', leaderCommit: 4, entries: [] }),
    F(2, 'Apply', { term: 1, index: 2, command: 'noop' }),
    F(3, 'Apply', { term: 1, index: 3, command: 'noop' }),
    F(4, 'Apply', { term: 2, index: 4, command: 'noop' }),
  ];
  const records: JsonlRecord[] = rs.map((r, i) => ({ ...r, line: i + 1 }));
  return new Trace({ dir: '-', records, jsonlErrors: [], shiviz: '', history: [], meta: { servers: ['L', 'F'], ...(opts.existingData === undefined ? {} : { existingData: opts.existingData }) }, problems: [] });
}

describe('commit-before-apply over an earlier run: indexes committed before the trace began', () => {
  it('passes, noted, when a follower applies them after the leader committed a later index', () => {
    const r = commitBeforeApplyRule(run({ followerHeard: 'leader' }));
    expect(r.offenders).toEqual([]);
    expect(r.note).toContain("2 Applies of indexes no Commit in this trace names, after a leader's Commit of a later index");
  });

  it('fails when nothing committed a later index before the Apply', () => {
    const r = commitBeforeApplyRule(run({ followerHeard: 'other' }));
    expect(r.offenders.map((o) => o.message)).toEqual([
      'Apply of index 2 on F, but no server recorded a Commit of index 2',
      'Apply of index 3 on F, but no server recorded a Commit of index 3',
      'Apply of index 4 on F does not happen after any Commit of index 4 (L:2)',
    ]);
  });

  it('fails when meta.json says the run began with empty data', () => {
    const r = commitBeforeApplyRule(run({ followerHeard: 'leader', existingData: false }));
    expect(r.offenders.map((o) => o.message)).toEqual([
      'Apply of index 2 on F, but no server recorded a Commit of index 2',
      'Apply of index 3 on F, but no server recorded a Commit of index 3',
    ]);
  });
});

/**
 * The failure a user saw (`cluster up` over a crashed run's data): the new leader recovered
 * commit index 3 from its disk (RaftStart commitIndex), and its first heartbeat carried it
 * before it committed anything in its own term; the follower applied 2..3 on hearing it.
 * No Commit of 2..3 and none of a later index happens before those Applies.
 */
function recoveredRun(opts: { existingData?: boolean; recovered: number | undefined; applyTo: number; leaderRestarted?: boolean }): Trace {
  const L = (n: number, tag: string, body: Record<string, unknown>): Omit<JsonlRecord, 'line'> => ({ host: 'L', traceId: '', tag, body, clock: { L: n } });
  const F = (n: number, tag: string, body: Record<string, unknown>): Omit<JsonlRecord, 'line'> => ({ host: 'F', traceId: '', tag, body, clock: { L: opts.leaderRestarted ? 5 : 3, F: n } });
  const start = opts.recovered === undefined ? { serverId: 'L' } : { serverId: 'L', commitIndex: opts.recovered };
  const rs: Omit<JsonlRecord, 'line'>[] = opts.leaderRestarted
    ? [L(1, 'ServerStart', { serverId: 'L' }), L(2, 'RaftStart', { serverId: 'L' }), L(3, 'ServerStart', { serverId: 'L' }), L(4, 'RaftStart', start), L(5, 'AppendEntries', { term: 2, leaderId: 'L', to: 'F', leaderCommit: opts.applyTo, entries: [] })]
    : [L(1, 'ServerStart', { serverId: 'L' }), L(2, 'RaftStart', start), L(3, 'AppendEntries', { term: 2, leaderId: 'L', to: 'F', leaderCommit: opts.applyTo, entries: [] })];
  rs.push(F(1, 'AppendEntriesRecv', { term: 2, leaderId: 'L', to: 'F', leaderCommit: opts.applyTo, entries: [] }));
  for (let i = 2; i <= opts.applyTo; i++) rs.push(F(i, 'Apply', { term: 1, index: i, command: 'noop' }));
  const records: JsonlRecord[] = rs.map((r, i) => ({ ...r, line: i + 1 }));
  return new Trace({ dir: '-', records, jsonlErrors: [], shiviz: '', history: [], meta: { servers: ['L', 'F'], ...(opts.existingData === undefined ? {} : { existingData: opts.existingData }) }, problems: [] });
}

describe('commit-before-apply over an earlier run: the commit index a server recovered at its start', () => {
  it('passes, noted, when a follower applies indexes up to the leader\'s recovered commit index, before any Commit', () => {
    const r = commitBeforeApplyRule(recoveredRun({ recovered: 3, applyTo: 3 }));
    expect(r.offenders).toEqual([]);
    expect(r.note).toContain('2 Applies of indexes a server recovered as committed at its start (RaftStart commitIndex)');
  });

  it('fails without the recovered commit index (a trace from before RaftStart carried it: the user\'s FAIL)', () => {
    const r = commitBeforeApplyRule(recoveredRun({ recovered: undefined, applyTo: 3 }));
    expect(r.offenders.map((o) => o.message)).toEqual(['Apply of index 2 on F, but no server recorded a Commit of index 2', 'Apply of index 3 on F, but no server recorded a Commit of index 3']);
  });

  it('still fails an index past the recovered commit index that no Commit in the run names', () => {
    const r = commitBeforeApplyRule(recoveredRun({ recovered: 3, applyTo: 4 }));
    expect(r.offenders.map((o) => o.message)).toEqual(['Apply of index 4 on F, but no server recorded a Commit of index 4']);
  });

  it('does not take the commit index of a later life (learned in the run) as known before it', () => {
    const r = commitBeforeApplyRule(recoveredRun({ recovered: 3, applyTo: 3, leaderRestarted: true }));
    expect(r.offenders.map((o) => o.message)).toEqual(['Apply of index 2 on F, but no server recorded a Commit of index 2', 'Apply of index 3 on F, but no server recorded a Commit of index 3']);
  });

  it('fails when meta.json says the run began with empty data', () => {
    const r = commitBeforeApplyRule(recoveredRun({ recovered: 3, applyTo: 3, existingData: false }));
    expect(r.offenders).toHaveLength(2);
  });
});
