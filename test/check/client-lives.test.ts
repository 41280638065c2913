import { describe, expect, it } from 'vitest';
import type { LoadedRun } from '../../tracing/check/load.ts';
import { clientOrderRule } from '../../tracing/check/rule-client-order.ts';
import { historyMatchesTraceRule } from '../../tracing/check/rule-history.ts';
import { lifecycleRule } from '../../tracing/check/rule-lifecycle.ts';
import { operationOrderRule } from '../../tracing/check/rule-operations.ts';
import { Trace } from '../../tracing/check/trace.ts';
import type { JsonlRecord } from '../../tracing/shiviz.ts';

/**
 * A client id used by several processes one after another (one CLI command each, with
 * --client-id and a state dir) has several lives, KvslibStart ... KvslibStop each, its clock
 * carrying on. Hand-made client traces (the tags kvslib records), then mutations of them.
 */

/** Two lives of alice: each a put, the second op's id carrying on. */
function twoLives(): string[] {
  return ['KvslibStart', 'NewServerConnection', 'PutStart', 'PutSend', 'PutResultRecvd', 'KvslibStop', 'KvslibStart', 'NewServerConnection', 'GetStart', 'GetSend', 'GetResultRecvd', 'KvslibStop'];
}

function traceOf(tags: string[], live = false): Trace {
  const records: JsonlRecord[] = tags.map((tag, i) => ({ host: 'alice', traceId: '', tag, body: {}, clock: { alice: i + 1 }, line: i + 1 }));
  const run: LoadedRun = {
    dir: '-', records, jsonlErrors: [], shiviz: '', history: [], meta: null, problems: [],
    ...(live ? { live: { line: records.length, events: records.length, total: records.length, inFlight: 0, pending: [] } } : {}),
  };
  return new Trace(run);
}

const messages = (tags: string[], live = false) => lifecycleRule(traceOf(tags, live)).offenders.map((o) => o.message);

describe('lifecycle: a client with several lives', () => {
  it('passes lives that each start and stop, as often as the client id is used', () => {
    expect(messages(twoLives())).toEqual([]);
    expect(messages([...twoLives(), ...twoLives()])).toEqual([]);
  });

  it('a life without KvslibStop is a process that died (killed, Ctrl-C): noted, not a fault, whether the id is used again or not', () => {
    const noStop = twoLives().filter((_, i) => i !== 5);
    expect(messages(noStop)).toEqual([]);
    expect(lifecycleRule(traceOf(noStop)).note).toMatch(/^1 client lives ended without KvslibStop \(the process died.*e\.g\. KvslibStart@alice:1 \(line 1\) \.\. PutResultRecvd@alice:5/);
    const running = twoLives().slice(0, -1);
    expect(messages(running)).toEqual([]);
    expect(lifecycleRule(traceOf(running)).note).toMatch(/^1 client lives ended without KvslibStop .* e\.g\. KvslibStart@alice:7/);
  });

  it('fails an event after a stop, a second stop, events before the first start', () => {
    const afterStop = twoLives();
    afterStop.splice(6, 0, 'PutStart');
    expect(messages(afterStop)).toEqual([expect.stringMatching(/^PutStart recorded after KvslibStop@alice:6/)]);
    const twice = twoLives();
    twice.splice(6, 0, 'KvslibStop');
    expect(messages(twice)).toEqual([expect.stringMatching(/^client alice records KvslibStop again/)]);
    const noFirstStart = twoLives().slice(1);
    expect(messages(noFirstStart).length).toBe(5);
    expect(messages(noFirstStart)[0]).toMatch(/^NewServerConnection recorded before alice's first KvslibStart/);
  });

  it('the last life not stopped, in a run still being written: still running, not judged', () => {
    const running = twoLives().slice(0, -1);
    expect(messages(running, true)).toEqual([]);
    expect(lifecycleRule(traceOf(running, true)).note).toMatch(/1 clients not yet stopped/);
  });
});

describe('an operation retried in a later life of its client (raftkv retry --client-id)', () => {
  const cmd = JSON.stringify({ clientId: 'alice', opId: 1, firstUnacked: 1, ts: 1, op: { type: 'put', key: 'k', value: 'v' } });
  const put = { clientId: 'alice', opId: 1, key: 'k', value: 'v' };
  /** Life 1 gives up on alice:1 with an error; life 2 retries it with the same OpId, answered. */
  function retried(sameLife = false, died = false, again: Record<string, unknown> = put): Trace {
    const a = (n: number, tag: string, body: Record<string, unknown> = {}, traceId = '', s = 0): Omit<JsonlRecord, 'line'> => ({ host: 'alice', traceId, tag, body, clock: s ? { alice: n, s } : { alice: n } });
    const sv = (n: number, tag: string, body: Record<string, unknown>, alice: number): Omit<JsonlRecord, 'line'> => ({ host: 's', traceId: tag.startsWith('Put') || tag === 'RaftPutReq' || tag === 'Commit' || tag === 'Apply' ? 'alice:1' : '', tag, body, clock: alice ? { s: n, alice } : { s: n } });
    const rs = [
      sv(1, 'ServerStart', {}, 0), sv(2, 'ServerListening', {}, 0),
      // died: the first life's process was killed before its result (Ctrl-C): no ResultRecvd, no KvslibStop, no history entry.
      a(1, 'KvslibStart'), a(2, 'PutStart', put, 'alice:1'), a(3, died ? 'PutSend' : 'PutResultRecvd', died ? { ...put, serverId: 'gone', attempt: 0 } : { ...put, error: '--timeout 1 ms passed' }, 'alice:1'), a(4, died ? 'NewServerConnection' : 'KvslibStop'),
      a(5, sameLife ? 'NewServerConnection' : 'KvslibStart'), a(6, 'PutStart', again, 'alice:1'), a(7, 'PutSend', { ...put, serverId: 's', attempt: 0 }, 'alice:1'),
      sv(3, 'PutRecv', put, 7), sv(4, 'RaftPutReq', put, 7), sv(5, 'Commit', { term: 1, index: 1, operation: cmd }, 7), sv(6, 'Apply', { term: 1, index: 1, command: cmd }, 7), sv(7, 'PutResult', put, 7),
      a(8, 'PutResultRecvd', put, 'alice:1', 7), a(9, 'KvslibStop', {}, '', 7),
    ];
    const records: JsonlRecord[] = rs.map((r, i) => ({ ...r, line: i + 1 }));
    const history = [
      { clientId: 'alice', opId: 1, op: { type: 'put' as const, key: 'k', value: 'v' }, call: 0, return: 10, error: '--timeout 1 ms passed' },
      { clientId: 'alice', opId: 1, op: { type: 'put' as const, key: 'k', value: 'v' }, call: 20, return: 30, output: { value: 'v' } },
    ].slice(died ? 1 : 0);
    return new Trace({ dir: '-', records, jsonlErrors: [], shiviz: '', history, meta: { servers: ['s'] }, problems: [] });
  }
  const rules = { 'operation-order': operationOrderRule, 'client-order': clientOrderRule, 'history-trace': historyMatchesTraceRule, lifecycle: lifecycleRule };

  it('is one operation with one attempt per life: no rule calls the repeated Start, result or history entry a fault', () => {
    for (const [name, rule] of Object.entries(rules)) expect(rule(retried()).offenders.map((o) => o.message), name).toEqual([]);
  });

  it('after a life that died (no KvslibStop, no result, no history entry): the same, and lifecycle notes the death', () => {
    for (const [name, rule] of Object.entries(rules)) expect(rule(retried(false, true)).offenders.map((o) => o.message), name).toEqual([]);
    expect(lifecycleRule(retried(false, true)).note).toMatch(/^1 client lives ended without KvslibStop/);
    // Without the second life the first attempt is cut short: noted, not judged for a result.
    const t = retried(false, true);
    const alone = new Trace({ ...t.run, records: t.records.filter((r) => r.clock.alice <= 4 && !(r.host === 's' && r.clock.s > 2)), history: [] });
    for (const [name, rule] of Object.entries(rules)) expect(rule(alone).offenders.map((o) => o.message), name).toEqual([]);
    expect(operationOrderRule(alone).note).toMatch(/1 cut short by their client's end, never answered \(alice:1\)/);
  });

  it('an OpId started again as another operation is a fault (the servers would answer it from the session table)', () => {
    expect(operationOrderRule(retried(false, true, { ...put, value: 'w' })).offenders.map((o) => o.message)).toEqual([expect.stringMatching(/^alice:1 is started again as PutStart\("k", "w"\), first as PutStart\("k", "v"\)/)]);
  });

  it('the same repeats within one life are faults', () => {
    const t = retried(true);
    expect(operationOrderRule(t).offenders.map((o) => o.message)).toContainEqual(expect.stringMatching(/^a second Start for alice:1/));
    expect(clientOrderRule(t).offenders.map((o) => o.message)).toContainEqual(expect.stringMatching(/^opId 1 started after opId 1/));
  });
});
