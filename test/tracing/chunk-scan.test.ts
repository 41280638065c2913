import { describe, expect, it } from 'vitest';
import { serializeClock, type VectorClock } from '../../tracing/clock.ts';
import { scanChunk, shivizEvents } from '../../tracing/chunk-scan.ts';
import { oneLine, shivizEventOf } from '../../tracing/shiviz.ts';
import { formatLine, parseLine } from '../../tracing/trace-line.ts';
import { rng } from './slice-execution.ts';

/**
 * The tracing server's byte path (chunk-scan.ts) must read every chunk it takes exactly as
 * the text path (parseLine, shivizEventOf) does, and leave every other chunk to it.
 */
const HOSTS = ['server1', 'server10', 'erver1', 'client-a', 'kv.c:1', 'z', 'é', 'r"q', 'b\\s'];
const TEXTS = ['', 'x', ',"clock":{', '"traceId":"t"', 'é', '}}', '\\', '\n', 'a"b', '\u2028', 'ü\u00a0', 'a—b', '\u2029'];
const TAGS = ['Apply', 'PutStart', 'Put"Start', 'a\\b', 'Tag\u2003x', 'Ünï', 'del\u007f', 'tab\tx'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function randomLine(r: () => number, i: number): string {
  const host = pick(r, HOSTS);
  const clock: VectorClock = {};
  for (let k = 0; k < 6; k++) if (r() < 0.5) clock[pick(r, HOSTS)] = Math.floor(r() * 50);
  clock[host] = 1 + Math.floor(r() * 1e6);
  const traceId = r() < 0.3 ? '' : `${r() < 0.8 ? 'c' : pick(r, TEXTS)}:${i}`;
  const body = r() < 0.1 ? {} : { v: pick(r, TEXTS), [pick(r, TEXTS)]: { n: i } };
  return formatLine(host, traceId, pick(r, TAGS), JSON.stringify(body), serializeClock(clock));
}

describe('chunk scan', () => {
  it('takes a chunk only when the text path reads its every line the same way, and writes the same ShiViz events', () => {
    const seed = Number(process.env.SEED ?? 29);
    const r = rng(seed);
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      const lines = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, k) => randomLine(r, i * 10 + k));
      const chunk = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
      const spans = scanChunk(chunk);
      const why = `seed ${seed}, case ${i}: ${lines.join(' / ')}`;
      const parts = lines.map((l) => parseLine(l));
      if (spans === null) {
        // Left to the text path: some line is not in the usual shape, or has a name or trace
        // id with a quote or backslash (escaped), or the chunk holds U+2028/U+2029, or a
        // body's own traceId key meets the record's.
        const names = /^[^"\\\s]+$/;
        const plain = parts.every((p, k) =>
          p !== null && p.line === lines[k] && !/[\u2028\u2029]/.test(lines[k]) && !(p.traceId && p.body.includes('"traceId":')) &&
          names.test(p.host) && names.test(p.tag) && (p.traceId === '' || names.test(p.traceId)));
        expect(plain, why).toBe(false);
        continue;
      }
      taken++;
      expect(spans.map((s) => [s.host, s.counter]), why).toEqual(parts.map((p) => [p!.host, p!.counter]));
      expect(spans.map((s) => chunk.toString('utf8', s.clockStart, s.clockEnd)), why).toEqual(parts.map((p) => p!.clock));
      expect(shivizEvents(chunk, spans).toString('utf8'), why).toBe(parts.map((p) => `${oneLine(shivizEventOf(p!))}\n`).join(''));
    }
    // Most chunks of plain names are taken: the fast path is the usual one.
    expect(taken).toBeGreaterThan(300);
  });

  it('leaves to the text path a chunk with a torn or foreign line', () => {
    const ok = formatLine('s1', 'c:1', 'Apply', '{"i":1}', '{"s1":3,"s2":1}');
    expect(scanChunk(Buffer.from(`${ok}\n`))?.map((s) => s.counter)).toEqual([3]);
    for (const bad of [
      `${ok}`, // no final newline
      `${ok}\n${ok.slice(0, -1)}\n`,
      `${ok}\nnot json\n`,
      `${formatLine('s1', 't', 'Apply', '{"i":1}', '{"s11":3}')}\n`,
      `${formatLine('s1', 't', 'Apply', '{"i":1}', '{"s1":0}')}\n`,
      '{"tag":"A","host":"h","traceId":"","clock":{"h":4},"body":{"n":4}}\n',
      '\n',
    ]) expect(scanChunk(Buffer.from(bad)), bad).toBeNull();
  });
});
