import { describe, expect, it } from 'vitest';
import { serializeClock, type VectorClock } from '../../tracing/clock.ts';
import type { TraceRecord, TraceSink } from '../../tracing/record.ts';
import { formatShiVizEvent, oneLine, shivizEventOf } from '../../tracing/shiviz.ts';
import { formatLine, parseLine } from '../../tracing/trace-line.ts';
import { Tracer } from '../../tracing/tracer.ts';
import { rng } from './slice-execution.ts';

const HOSTS = ['server1', 'server10', 'erver1', 'client-a', 'r"q', 'b\\s', 'kv.c:1', 'z'];
const TEXTS = ['', 'x', ',"clock":{', '"traceId":"t"', 'é\u2028', '}}', '\\', '\n', 'a"b'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** Records the way a process writes them: the tracer's clock text, the sink's line. */
class LineSink implements TraceSink {
  readonly lines: { record: TraceRecord; line: string }[] = [];
  write(record: TraceRecord, clock?: string): void {
    this.lines.push({ record, line: formatLine(record.host, record.traceId, record.tag, JSON.stringify(record.body), clock ?? serializeClock(record.clock)) });
  }
}

describe('trace lines', () => {
  it('read back every record they were written from, whatever its names and body hold', () => {
    const seed = Number(process.env.SEED ?? 18);
    const r = rng(seed);
    for (let i = 0; i < 2000; i++) {
      const host = pick(r, HOSTS);
      const clock: VectorClock = {};
      for (let k = 0; k < 4; k++) if (r() < 0.5) clock[pick(r, HOSTS)] = Math.floor(r() * 50);
      clock[host] = 1 + Math.floor(r() * 1e6);
      const rec: TraceRecord = { host, traceId: r() < 0.3 ? '' : `${pick(r, TEXTS)}${i}`, tag: pick(r, ['Apply', 'Put"Start', 'a\\b']), body: { v: pick(r, TEXTS), [pick(r, TEXTS)]: { n: i } }, clock };
      const line = formatLine(rec.host, rec.traceId, rec.tag, JSON.stringify(rec.body), serializeClock(rec.clock));
      const p = parseLine(line);
      const why = `seed ${seed}, case ${i}: ${line}`;
      expect(p, why).not.toBeNull();
      expect({ host: p!.host, traceId: p!.traceId, tag: p!.tag, body: JSON.parse(p!.body), clock: JSON.parse(p!.clock), counter: p!.counter }, why).toEqual({
        host: rec.host, traceId: rec.traceId, tag: rec.tag, body: rec.body, clock: JSON.parse(serializeClock(rec.clock)), counter: rec.clock[rec.host],
      });
      expect(JSON.parse(p!.line), why).toEqual(JSON.parse(line));
      // The tracing server's event text (made one line with its chunk) is the one formatShiVizEvent writes.
      expect(oneLine(shivizEventOf(p!)), why).toBe(formatShiVizEvent(rec));
    }
  });

  it('are refused when they are not records: no host counter, no object body, not JSON', () => {
    const ok = formatLine('s1', 't', 'Apply', '{"i":1}', '{"s1":3,"s2":1}');
    expect(parseLine(ok)?.counter).toBe(3);
    for (const bad of [
      formatLine('s1', 't', 'Apply', '{"i":1}', '{"s2":1}'), // the host is not in its own clock
      formatLine('s1', 't', 'Apply', '{"i":1}', '{"s11":3}'), // only a longer name that ends like it
      formatLine('s1', 't', 'Apply', '{"i":1}', '{"s1":0}'),
      formatLine('s1', 't', 'Apply', '{"i":1}', '{"s1":-2}'),
      formatLine('s1', 't', 'Apply', '{"i":1}', '{"s1":1.5}'),
      formatLine('s1', 't', 'Apply', '[1]', '{"s1":3}'),
      formatLine('s 1', 't', 'Apply', '{}', '{"s 1":3}'), // whitespace would split a ShiViz host line
      formatLine('s1', 't', '', '{}', '{"s1":3}'),
      ok.slice(0, -1),
      'not json',
      '',
    ]) expect(parseLine(bad), bad).toBeNull();
  });

  it('take a line in another key order and give it back in the one shape', () => {
    const p = parseLine('{"clock":{"b":2,"a":1},"body":{"x":1},"tag":"Apply","host":"b"}');
    expect(p).toMatchObject({ host: 'b', traceId: '', tag: 'Apply', body: '{"x":1}', clock: '{"a":1,"b":2}', counter: 2 });
    expect(p!.line).toBe(formatLine('b', '', 'Apply', '{"x":1}', '{"a":1,"b":2}'));
  });

  it("carry the tracer's clock text, which is serializeClock of the record's clock through receives", () => {
    const seed = Number(process.env.SEED ?? 18);
    const r = rng(seed);
    const sinks = HOSTS.map(() => new LineSink());
    const tracers = HOSTS.map((h, i) => new Tracer(h.replace(/\s/g, ''), sinks[i], r() < 0.3 ? { [pick(r, HOSTS)]: 5 } : {}));
    const tokens: VectorClock[] = [];
    for (let i = 0; i < 3000; i++) {
      const t = pick(r, tracers);
      const k = r();
      if (k < 0.4) tokens.push(t.send('Send', { i })!);
      else if (k < 0.7 && tokens.length > 0) t.receive(pick(r, tokens), 'Recv', { i });
      else t.record('Local', { i });
    }
    for (const sink of sinks) {
      for (const { record, line } of sink.lines) {
        expect(parseLine(line)?.clock, `seed ${seed}`).toBe(serializeClock(record.clock));
      }
    }
  });
});
