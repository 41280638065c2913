import { describe, expect, it } from 'vitest';
import { DETAILS_SHOWN, formatOffender, formatReport, type CheckReport } from '../../tracing/check/report.ts';
import { MAX_LINE, shortenLine, shortenText } from '../../tracing/check/shorten.ts';
import type { Offender } from '../../tracing/check/trace.ts';

/** A clock naming 200 hosts: serialized whole it is thousands of characters. */
const bigClock = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`server${i}`, 1000 + i]));
const keys = Array.from({ length: 150 }, (_, i) => `key${i}`);
const value = 'v'.repeat(60_000);

function offender(message: string, details?: string[]): Offender {
  return { host: 'server7', clock: bigClock, line: 42, message, ...(details ? { details } : {}) };
}

describe('formatOffender', () => {
  it('names the operation of an event that belongs to one: a client\'s host:counter (myc3:3, its third event) reads like operation myc3:3', () => {
    expect(formatOffender({ host: 'myc3', clock: { myc3: 3 }, line: 2982, message: 'm', op: 'myc3:1' })).toBe('myc3:3 line 2982 (op myc3:1): m');
  });

  it("prints the host's own counter, not the whole clock", () => {
    expect(formatOffender(offender('Apply of index 3 skips index 2'))).toBe('server7:1007 line 42: Apply of index 3 skips index 2');
  });

  it('prints the host alone when there is no clock, and no line when there is none', () => {
    expect(formatOffender({ host: 'history.json', clock: null, line: null, message: 'key "k": bad' })).toBe('history.json: key "k": bad');
    expect(formatOffender({ host: 'ann', clock: { ben: 3 }, line: 9, message: 'm' })).toBe('ann line 9: m');
  });

  it('cuts a 60,000-character value, noting its length, and stays under the cap', () => {
    const line = formatOffender(offender(`GetResultRecvd@ann:3 (line 9) got ${JSON.stringify(value)}, history.json says "v1"`));
    expect(line.length).toBeLessThanOrEqual(MAX_LINE);
    expect(line).toMatch(/^server7:1007 line 42: GetResultRecvd@ann:3 \(line 9\) got "v{60}…" \(60,000 chars\), history\.json says "v1"$/);
  });

  it('shortens an mget key list, in the op and in a quoted key alike', () => {
    const line = formatOffender(offender(`mget(${keys.join(', ')}) -> key3="x"; GetSend names key ${JSON.stringify(keys.join(','))}`));
    expect(line).toBe('server7:1007 line 42: mget(key0, key1, key2, key3, key4, ... and 145 more) -> key3="x"; GetSend names key "key0,key1,key2,key3,key4,... and 145 more"');
  });

  it('caps a whole line at MAX_LINE, noting the full length', () => {
    const pairs = keys.map((k) => `${k}=${JSON.stringify(value)}`).join(', ');
    const message = `mput(${pairs}) was lost`;
    const line = formatOffender(offender(message));
    expect(line.length).toBeLessThanOrEqual(MAX_LINE);
    expect(line).toMatch(/^server7:1007 line 42: mput\(key0="v{60}…" \(60,000 chars\), key1=.*… \([\d,]+ chars\)$/);
  });

  it('leaves short lists, sets of voters and prose alone', () => {
    const text = 'server1 became leader of term 2 with 2 of 5 votes (itself, server2); needs 3 of {server0,server1,server2,server3,server4}: committed at index 3 (ConfChangeCommitted@server0:25 (line 52))';
    expect(shortenText(text)).toBe(text);
    expect(shortenText('mget(a, b, c, d, e, f, g, h)')).toBe('mget(a, b, c, d, e, f, g, h)');
    expect(shortenText('mget(a, b, c, d, e, f, g, h, i)')).toBe('mget(a, b, c, d, e, ... and 4 more)');
  });

  it('shortens a JSON array or object output and an unquoted long run', () => {
    expect(shortenText(`-> ${JSON.stringify(keys)}`)).toBe('-> ["key0","key1","key2","key3","key4",... and 145 more]');
    expect(shortenText(`got ${'z'.repeat(500)} end`)).toBe(`got ${'z'.repeat(60)}… (500 chars) end`);
  });

  it('does not cut a JSON escape in two', () => {
    const s = shortenLine(JSON.stringify(`${'a'.repeat(59)}\u00e9${'b'.repeat(200)}`).replace('é', '\\u00e9'));
    expect(s).toBe(`"${'a'.repeat(59)}…" (260 chars)`);
  });
});

describe('formatReport', () => {
  const report = (offenders: Offender[]): CheckReport => ({
    dir: '/tmp/run',
    ok: false,
    results: [{ rule: 'linearizability', status: 'FAIL', offenders, count: offenders.length }],
  });

  it('prints own counters and shortened details; the report keeps the full data', () => {
    const o = offender(`key "k1": not linearizable; explains ann:4 get(k1)`, [`* ann:4 put(k1, ${JSON.stringify(value)}) [call +1.000 ms, return +2.000 ms]`]);
    const r = report([o]);
    const text = formatReport(r);
    expect(text).toContain('      server7:1007 line 42: key "k1": not linearizable; explains ann:4 get(k1)');
    expect(text).toContain(`          * ann:4 put(k1, "${'v'.repeat(60)}…" (60,000 chars)) [call +1.000 ms, return +2.000 ms]`);
    expect(text).not.toContain('server0:');
    expect(text.length).toBeLessThan(1000);
    expect(r.results[0].offenders[0].details![0]).toContain(value);
  });

  it('prints the first DETAILS_SHOWN detail lines and counts the rest', () => {
    const details = Array.from({ length: DETAILS_SHOWN + 12 }, (_, i) => `op ${i}`);
    const text = formatReport(report([offender('m', details)]));
    expect(text).toContain(`op ${DETAILS_SHOWN - 1}\n          ... and 12 more lines`);
    expect(text).not.toContain(`op ${DETAILS_SHOWN}\n`);
  });

  it('shortens a real-size failing report from megabytes to a few kilobytes', () => {
    const offenders = Array.from({ length: 25 }, (_, i) =>
      offender(`GetResultRecvd@ann:${i} (line ${i}) got ${JSON.stringify(value)} for mget(${keys.join(', ')})`, [`ann:${i} mget(${keys.join(', ')}) -> ${JSON.stringify(value)}`]),
    );
    const text = formatReport(report(offenders));
    expect(text.length).toBeLessThan(20 * 1024);
    expect(text).toContain('... and 5 more (25 in all)');
  });
});
