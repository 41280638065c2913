import { describe, expect, it } from 'vitest';
import { checkShiViz, checkShiVizLog, type Violation } from '../../tracing/check/shiviz-rules.ts';
import { MemorySink, type TraceRecord } from '../../tracing/record.ts';
import {
  formatJsonl,
  formatJsonlLine,
  formatShiViz,
  formatShiVizEvent,
  parseJsonl,
  parseShiViz,
  SHIVIZ_REGEX,
  type ShiVizEvent,
} from '../../tracing/shiviz.ts';
import { Tracer } from '../../tracing/tracer.ts';
import { isCanonicalClock, serializeClock } from '../../tracing/clock.ts';

const TRICKY_VALUE = 'line1\nline2\u2028after-line-separator\u2029end';

/** One traced Put through a leader and a follower; the comments give each event's own counter. */
function exchange(): TraceRecord[] {
  const sink = new MemorySink();
  const client = new Tracer('client0', sink);
  const s0 = new Tracer('server0', sink);
  const s1 = new Tracer('server1', sink);
  const op = { clientId: 'client0', opId: 1, key: 'k1' };
  client.record('KvslibStart', { clientId: 'client0' }); // client0:1
  s0.record('ServerStart', { serverId: 'server0' }); // server0:1
  s1.record('ServerStart', { serverId: 'server1' }); // server1:1
  const put = client.send('PutSend', { ...op, value: TRICKY_VALUE }, 'op-1'); // client0:2
  s0.receive(put, 'PutRecv', { ...op, value: TRICKY_VALUE }, 'op-1'); // server0:2
  const append = s0.send('AppendEntries', { term: 1, prevLogIndex: 0, prevLogTerm: 0, leaderCommit: 0 }, 'op-1'); // server0:3
  s1.receive(append, 'AppendEntriesRecv', { term: 1 }, 'op-1'); // server1:2
  s1.record('Persist', { index: 1 }); // server1:3, known to others only through server1:4
  const ack = s1.send('AppendEntriesRes', { success: true, term: 1 }, 'op-1'); // server1:4
  s0.receive(ack, 'AppendEntriesResRecv', { success: true, term: 1 }, 'op-1'); // server0:4
  s0.record('Commit', { term: 1, index: 1 }, 'op-1'); // server0:5
  const result = s0.send('PutResult', { ...op, value: TRICKY_VALUE }, 'op-1'); // server0:6
  client.receive(result, 'PutResultRecvd', { ...op, value: TRICKY_VALUE }, 'op-1'); // client0:3
  client.record('KvslibStop', { clientId: 'client0' }); // client0:4
  return sink.records;
}

function goodEvents(): ShiVizEvent[] {
  const { events, errors } = parseShiViz(formatShiViz(exchange()));
  expect(errors).toEqual([]);
  return events;
}

function eventAt(events: ShiVizEvent[], host: string, counter: number): ShiVizEvent {
  const found = events.find((e) => e.host === host && e.clock[host] === counter);
  if (!found) throw new Error(`no event ${host}:${counter}`);
  return found;
}

function without(events: ShiVizEvent[], drop: ShiVizEvent): ShiVizEvent[] {
  return events.filter((e) => e !== drop);
}

function rules(violations: Violation[]): string[] {
  return [...new Set(violations.map((v) => v.rule))].sort();
}

describe('ShiViz file', () => {
  it('starts with the parser regex and a blank line, then two lines per record', () => {
    const records = exchange();
    const lines = formatShiViz(records).split('\n');
    expect(lines[0]).toBe(SHIVIZ_REGEX);
    expect(lines[1]).toBe('');
    expect(lines).toHaveLength(2 + 2 * records.length + 1);
    expect(lines[2]).toBe('client0 {"client0":1}');
    expect(lines[3]).toBe('KvslibStart {"clientId":"client0"}');
    expect(lines.at(-1)).toBe('');
  });

  it('is read by the regex ShiViz uses into exactly the records written', () => {
    const records = exchange();
    const text = formatShiViz(records);
    expect(text).not.toMatch(/[\u2028\u2029]/);
    const matches = [...text.matchAll(new RegExp(SHIVIZ_REGEX, 'g'))];
    expect(matches).toHaveLength(records.length);
    matches.forEach((m, i) => {
      expect(m.groups?.host).toBe(records[i].host);
      expect(JSON.parse(m.groups?.clock ?? '')).toEqual(records[i].clock);
      expect(m.groups?.event.startsWith(`${records[i].tag} {`)).toBe(true);
    });
  });

  it('round-trips through parseShiViz, with the trace id in the body', () => {
    const records = exchange();
    const { events, errors } = parseShiViz(formatShiViz(records));
    expect(errors).toEqual([]);
    expect(events).toEqual(
      records.map((r, i) => ({
        host: r.host,
        clock: r.clock,
        tag: r.tag,
        body: r.traceId ? { ...r.body, traceId: r.traceId } : r.body,
        line: 3 + 2 * i,
      })),
    );
    expect(eventAt(events, 'server0', 2).body.value).toBe(TRICKY_VALUE);
    expect(eventAt(events, 'server0', 1).body).not.toHaveProperty('traceId');
  });

  it('refuses a host or tag that would not read back', () => {
    const record: TraceRecord = { host: 'server0', traceId: '', tag: 'Put Send', body: {}, clock: { server0: 1 } };
    expect(() => formatShiViz([record])).toThrow(/tag/);
    expect(() => formatShiViz([{ ...record, tag: 'PutSend', host: 'server 0' }])).toThrow(/host/);
  });

  it('reports bad lines by number and keeps every event it can read', () => {
    const text = [
      '(?<host>\\S*) (?<clock>{.*})',
      '',
      'a {"a":1}',
      'Start {"x":1}',
      'garbage without clock',
      'a {"a":2,}',
      'Broken {}',
      '',
      'a {"a":2}',
      'Tag {not json',
      'a {"a":3}',
      'Tag ["array"]',
      'a {"a":4}',
    ].join('\n');
    const { events, errors } = parseShiViz(text);
    expect(errors.map((e) => e.line)).toEqual([1, 5, 6, 10, 12, 13]);
    expect(events.map((e) => [e.line, e.tag, e.body])).toEqual([
      [3, 'Start', { x: 1 }],
      [9, 'Tag', {}],
      [11, 'Tag', {}],
    ]);
    expect(parseShiViz(`${SHIVIZ_REGEX}\nnot blank\n`).errors).toEqual([{ line: 2, message: expect.any(String) }]);
    expect(parseShiViz(formatShiViz(exchange()).replace(/\n/g, '\r\n')).errors).toEqual([]);
  });
});

describe('trace.jsonl', () => {
  it('writes one object per line and reads it back with line numbers', () => {
    const records = exchange();
    const text = formatJsonl(records);
    const lines = text.split('\n');
    expect(lines).toHaveLength(records.length + 1);
    expect(text).not.toMatch(/[\u2028\u2029]/);
    expect(Object.keys(JSON.parse(lines[0]))).toEqual(['host', 'traceId', 'tag', 'body', 'clock']);
    const { records: back, errors } = parseJsonl(text);
    expect(errors).toEqual([]);
    expect(back).toEqual(records.map((r, i) => ({ ...r, line: i + 1 })));
  });

  it('reports malformed lines by number and keeps the rest', () => {
    const good = formatJsonl(exchange().slice(0, 2)).trimEnd().split('\n');
    const text = [
      good[0],
      '{"host":"a"',
      '{"traceId":"","tag":"T","body":{},"clock":{"a":1}}',
      '{"host":"a","traceId":"","tag":"T","body":{},"clock":{"a":-1}}',
      '{"host":"a","traceId":"","tag":"T","body":[],"clock":{"a":1}}',
      '[]',
      '',
      good[1],
    ].join('\n');
    const { records, errors } = parseJsonl(text);
    expect(records.map((r) => r.line)).toEqual([1, 8]);
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6]);
    expect(errors[1].message).toMatch(/host/);
    expect(errors[2].message).toMatch(/non-negative integer/);
  });
});

describe('formatting from the body as received (the tracing server)', () => {
  it('writes exactly what formatting the parsed body writes', () => {
    const records: TraceRecord[] = [
      ...exchange(),
      { host: 'h', traceId: '', tag: 'Empty', body: {}, clock: { h: 1 } },
      { host: 'h', traceId: 'c:9', tag: 'EmptyTraced', body: {}, clock: { h: 2 } },
      { host: 'h', traceId: 'c:9', tag: 'Tricky', body: { value: TRICKY_VALUE, nested: { traceId: 'inner' } }, clock: { h: 3 } },
      // A body with its own traceId field: the record's trace id replaces it in place.
      { host: 'h', traceId: 'c:9', tag: 'Own', body: { traceId: 'mine', a: 1 }, clock: { h: 4 } },
    ];
    for (const r of records) {
      const sent = { body: JSON.stringify(r.body), clock: serializeClock(r.clock) };
      expect(formatShiVizEvent(r, sent), r.tag).toBe(formatShiVizEvent(r));
      expect(formatJsonlLine(r, { body: sent.body }), r.tag).toBe(formatJsonl([r]).trimEnd());
      // With the canonical clock the line differs only in the clock's key order.
      expect(JSON.parse(formatJsonlLine(r, sent)), r.tag).toEqual(JSON.parse(formatJsonl([r])));
    }
  });
});

describe('isCanonicalClock', () => {
  it('holds for what serializeClock writes and fails for other orders or zeros', () => {
    expect(isCanonicalClock(JSON.parse(serializeClock({ b: 2, a: 1, c: 3 })))).toBe(true);
    expect(isCanonicalClock({})).toBe(true);
    expect(isCanonicalClock({ b: 2, a: 1 })).toBe(false);
    expect(isCanonicalClock({ a: 1, b: 0 })).toBe(false);
  });
});

describe('checkShiViz', () => {
  it('passes the log the Tracer writes, read from the file', () => {
    expect(checkShiViz(goodEvents())).toEqual([]);
    expect(checkShiVizLog(formatShiViz(exchange()))).toEqual([]);
  });

  it('passes a restarted process that continues its clock', () => {
    const sink = new MemorySink();
    const first = new Tracer('server0', sink);
    first.record('ServerStart', { serverId: 'server0' });
    const peer = new Tracer('server1', sink);
    peer.receive(first.send('RequestVote', { term: 1 }), 'RequestVoteRecv', { term: 1 });
    const restarted = new Tracer('server0', sink, first.currentClock());
    restarted.record('ServerStart', { serverId: 'server0' });
    expect(checkShiVizLog(formatShiViz(sink.records))).toEqual([]);
  });

  it('own-host-in-clock: a clock without its host', () => {
    const events = goodEvents();
    const stop = eventAt(events, 'client0', 4);
    delete stop.clock.client0;
    const violations = checkShiViz(events);
    expect(rules(violations)).toEqual(['own-host-in-clock']);
    expect(violations[0]).toMatchObject({ host: 'client0', line: stop.line, clock: stop.clock });
  });

  it('own-host-in-clock: two hosts swap clocks', () => {
    const events = goodEvents();
    const stop = eventAt(events, 'client0', 4);
    const start = eventAt(events, 'server1', 1);
    [stop.clock, start.clock] = [start.clock, stop.clock];
    expect(checkShiViz(events)).toContainEqual(expect.objectContaining({ rule: 'own-host-in-clock', line: stop.line }));
  });

  it("first-counter-is-1: a host's first event is lost", () => {
    const events = goodEvents();
    const violations = checkShiViz(without(events, eventAt(events, 'server0', 1)));
    expect(rules(violations)).toEqual(['first-counter-is-1']);
    expect(violations[0]).toMatchObject({ host: 'server0', line: eventAt(events, 'server0', 2).line });
  });

  it('counter-contiguous: a dropped event leaves a gap', () => {
    const events = goodEvents();
    const violations = checkShiViz(without(events, eventAt(events, 'server1', 3)));
    expect(rules(violations)).toEqual(['counter-contiguous']);
    expect(violations[0]).toMatchObject({ host: 'server1', line: eventAt(events, 'server1', 4).line });
  });

  it('counter-contiguous: a bumped counter skips one', () => {
    const events = goodEvents();
    const stop = eventAt(events, 'client0', 4);
    stop.clock.client0 = 5;
    const violations = checkShiViz(events);
    expect(rules(violations)).toEqual(['counter-contiguous']);
    expect(violations[0]).toMatchObject({ host: 'client0', line: stop.line });
  });

  it('counter-contiguous: a repeated counter', () => {
    const events = goodEvents();
    const stop = eventAt(events, 'client0', 4);
    const copy = { ...stop, clock: { ...stop.clock }, line: 999 };
    expect(rules(checkShiViz([...events, copy]))).toEqual(['counter-contiguous']);
  });

  it('unknown-host: a clock names a host with no events', () => {
    const events = goodEvents();
    const stop = eventAt(events, 'client0', 4);
    stop.clock.server9 = 1;
    const violations = checkShiViz(events);
    expect(rules(violations)).toEqual(['unknown-host']);
    expect(violations[0]).toMatchObject({ host: 'client0', line: stop.line });
    expect(violations[0].message).toContain('server9');
  });

  it('unknown-counter: a clock names a counter beyond what the host logged', () => {
    const events = goodEvents();
    const stop = eventAt(events, 'client0', 4);
    stop.clock.server1 = 9;
    const violations = checkShiViz(events);
    expect(rules(violations)).toEqual(['unknown-counter']);
    expect(violations[0]).toMatchObject({ host: 'client0', line: stop.line });
    expect(violations[0].message).toContain('server1:9');
  });

  it('monotonic-clock: a host forgets what it knew', () => {
    const events = goodEvents();
    const commit = eventAt(events, 'server0', 5);
    delete commit.clock.server1;
    const violations = checkShiViz(events);
    expect(rules(violations)).toEqual(['monotonic-clock']);
    expect(violations[0]).toMatchObject({ host: 'server0', line: commit.line });
    expect(violations[0].message).toContain('server1:4');
  });

  it('causal-transitivity: an event knows a send but not what the sender knew', () => {
    const events = goodEvents();
    const recvd = eventAt(events, 'client0', 3);
    delete recvd.clock.server1;
    const violations = checkShiViz(events);
    expect(rules(violations)).toEqual(['causal-transitivity']);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ host: 'client0', line: recvd.line });
    expect(violations[0].message).toContain('server1:4');
  });

  it('causal-transitivity: a later event that inherits the gap is reported too', () => {
    const events = goodEvents();
    const recvd = eventAt(events, 'client0', 3);
    const stop = eventAt(events, 'client0', 4);
    delete recvd.clock.server1;
    delete stop.clock.server1;
    expect(checkShiViz(events).map((v) => [v.rule, v.line])).toEqual([
      ['causal-transitivity', recvd.line],
      ['causal-transitivity', stop.line],
    ]);
  });

  it('causal-transitivity: two events that know each other form a cycle', () => {
    const events = goodEvents();
    const append = eventAt(events, 'server0', 3);
    const appendRecv = eventAt(events, 'server1', 2);
    append.clock.server1 = 2;
    const violations = checkShiViz(events);
    expect(rules(violations)).toEqual(['causal-transitivity']);
    expect(violations.map((v) => v.line).sort()).toEqual([append.line, appendRecv.line].sort());
    expect(violations[0].message).toContain('cycle');
  });

  it('parse: an unreadable line is a violation with its line number', () => {
    const lines = formatShiViz(exchange()).split('\n');
    lines[4] = 'client0 {"client0":';
    expect(checkShiVizLog(lines.join('\n'))).toContainEqual(expect.objectContaining({ rule: 'parse', line: 5 }));
  });
});

describe('checkShiViz at scale', () => {
  /** Deterministic message traffic among servers and clients, delivered out of order. */
  function bigLog(count: number): TraceRecord[] {
    const sink = new MemorySink();
    const tracers = [
      ...Array.from({ length: 7 }, (_, i) => new Tracer(`server${i}`, sink)),
      ...Array.from({ length: 40 }, (_, i) => new Tracer(`client${i}`, sink)),
    ];
    const inboxes = tracers.map(() => [] as TraceRecord['clock'][]);
    let seed = 12345;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    while (sink.records.length < count) {
      const i = next(tracers.length);
      const action = next(3);
      if (action === 0 && inboxes[i].length > 0) {
        const token = inboxes[i].splice(next(inboxes[i].length), 1)[0];
        tracers[i].receive(token, 'Recv', { n: sink.records.length });
      } else if (action === 1) {
        // Clients talk to servers only, so server clocks grow to name every client.
        const to = i < 7 ? next(tracers.length) : next(7);
        inboxes[to].push(tracers[i].send('Send', { to: tracers[to].host })!);
      } else {
        tracers[i].record('Local', {});
      }
    }
    return sink.records;
  }

  // Speed is measured, not asserted here (0.7 s on 2 cores; re-checking every entry of
  // every clock took 6 s): the test's own timeout is the only bound.
  it('checks 100k events and still finds a planted fault', () => {
    const events = bigLog(100_000).map((r, i) => ({ host: r.host, clock: r.clock, tag: r.tag, body: r.body, line: i + 1 }));
    expect(checkShiViz(events)).toEqual([]);

    // Make a server event in the second half forget an entry its predecessor had.
    const host = 'server3';
    const own = events.filter((e) => e.host === host).sort((a, b) => a.clock[host] - b.clock[host]);
    const k = Math.floor(own.length / 2);
    const victim = own[k];
    const forgotten = Object.keys(own[k - 1].clock).find((h) => h !== host);
    if (!forgotten) throw new Error('no entry to forget');
    delete victim.clock[forgotten];
    expect(checkShiViz(events)).toContainEqual(expect.objectContaining({ rule: 'monotonic-clock', line: victim.line }));
  });
});
