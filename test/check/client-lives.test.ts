import { describe, expect, it } from 'vitest';
import type { LoadedRun } from '../../tracing/check/load.ts';
import { lifecycleRule } from '../../tracing/check/rule-lifecycle.ts';
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

  it('fails a life without KvslibStop before the next start, an event after a stop, a second stop, events before the first start', () => {
    const noStop = twoLives().filter((_, i) => i !== 5);
    expect(messages(noStop)).toEqual([expect.stringMatching(/^client alice starts again \(KvslibStart@alice:6.*without a KvslibStop in the life begun by KvslibStart@alice:1/)]);
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

  it('the last life not stopped: a fault in a closed run, not judged in a run still being written', () => {
    const running = twoLives().slice(0, -1);
    expect(messages(running)).toEqual([expect.stringMatching(/^client alice never recorded KvslibStop \(last event: GetResultRecvd/)]);
    expect(messages(running, true)).toEqual([]);
    expect(lifecycleRule(traceOf(running, true)).note).toMatch(/1 clients not yet stopped/);
  });
});
