import { describe, expect, it } from 'vitest';
import { initialState } from '../../tracing/check/initial-state.ts';
import type { LoadedRun, RunMeta } from '../../tracing/check/load.ts';
import { Trace } from '../../tracing/check/trace.ts';
import type { HistoryEntry } from '../../tracing/history.ts';
import type { JsonlRecord } from '../../tracing/shiviz.ts';

/**
 * What the linearizability check takes the keys to hold before a run, from the events a
 * server records (initial-state.ts). Small hand-made traces of one server: the Apply and
 * Commit bodies as src/server/raft-node.ts records them, commands as src/kv/command.ts
 * encodes them.
 */

let counter = 0;
function event(tag: string, body: Record<string, unknown>, traceId = ''): JsonlRecord {
  counter++;
  return { host: 'server0', traceId, tag, body, clock: { server0: counter }, line: counter };
}

const command = (clientId: string, opId: number, op: Record<string, unknown>) => JSON.stringify({ clientId, opId, firstUnacked: opId, ts: 1, op });
const apply = (index: number, cmd: string) => event('Apply', { command: cmd, term: 1, index });

function traceOf(records: JsonlRecord[], opts: { history?: HistoryEntry[]; meta?: RunMeta } = {}): Trace {
  const run: LoadedRun = { dir: '-', records, jsonlErrors: [], shiviz: '', history: opts.history ?? [], meta: opts.meta ?? null, problems: [] };
  return new Trace(run);
}

/** A history entry for the run's own put of `key` by ann:`opId`. */
const ownPut = (opId: number, key: string): HistoryEntry => ({ clientId: 'ann', opId, op: { type: 'put', key, value: 'x' }, call: 0, return: 1, output: { value: 'x' } });

describe('initial state of a run', () => {
  it("a run whose log holds only its own clients' commands, from index 1: every key starts absent", () => {
    const t = traceOf([apply(1, 'noop'), apply(2, command('ann', 1, { type: 'put', key: 'k', value: 'x' }))], { history: [ownPut(1, 'k')] });
    expect(initialState(t)).toEqual({ unknown: new Set(), skip: new Set(), reasons: [] });
  });

  it('commands no Start or history entry explains make their keys unknown (an expire: skipped), and say why', () => {
    const t = traceOf(
      [
        apply(1, 'noop'),
        apply(2, command('old', 1, { type: 'put', key: 'z', value: '1' })),
        apply(3, command('old', 2, { type: 'mput', pairs: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] })),
        apply(4, command('old', 3, { type: 'expire', key: 't', deadlineMs: 5 })),
        event('Commit', { term: 2, index: 5, operation: 'noop' }),
        apply(5, 'noop'),
        apply(6, command('ann', 1, { type: 'put', key: 'k', value: 'x' })),
      ],
      { history: [ownPut(1, 'k')] },
    );
    const s = initialState(t);
    expect(s.unknown).toEqual(new Set(['z', 'a', 'b', 't']));
    expect(s.skip).toEqual(new Set(['t']));
    expect(s.reasons[0]).toMatch(/^initial values unknown for 4 keys \(a, b, t, z\): written by 3 operations with no Start in this trace .*e\.g\. old:1 \(Apply@server0:\d+ \(line \d+\)\)/);
    expect(s.reasons[1]).toBe('skipped keys an operation outside the history set to expire: t');
  });

  it('indexes reached without a command in the trace (a snapshot from before it) make every key unknown, unless meta.json says the data was empty', () => {
    const records = [event('SnapshotRestored', { serverId: 'server0', index: 40, term: 3 }), apply(41, 'noop'), apply(42, command('ann', 1, { type: 'put', key: 'k', value: 'x' }))];
    const s = initialState(traceOf(records, { history: [ownPut(1, 'k')] }));
    expect(s.unknown).toBe('all');
    expect(s.reasons[0]).toMatch(/^initial values unknown for every key: 40 of indexes 1\.\.42 \(from 1\) show their command in no Apply or Commit, though Apply@server0:\d+ \(line \d+\) reached 42/);
    const fresh = initialState(traceOf(records, { history: [ownPut(1, 'k')], meta: { existingData: false } }));
    expect(fresh.unknown).toEqual(new Set());
    expect(fresh.reasons[0]).toMatch(/meta\.json says the run began with empty data, so keys start absent$/);
    // meta.json's existingData: true alone changes nothing: the trace says what the old data touched.
    expect(initialState(traceOf([apply(1, 'noop')], { meta: { existingData: true } })).unknown).toEqual(new Set());
  });
});
