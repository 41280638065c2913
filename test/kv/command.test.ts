import { describe, expect, it } from 'vitest';
import {
  MAX_BATCH_KEYS,
  MAX_COMMAND_BYTES,
  MAX_KEY_BYTES,
  MAX_TTL_SECONDS,
  MAX_VALUE_BYTES,
  buildCommand,
  decodeCommand,
  encodeCommand,
  validateOp,
  type ClientOp,
  type Command,
} from '../../src/kv/command.ts';
import { seededRng } from '../../src/raft/rng.ts';

const meta = { clientId: 'c1', opId: 7, firstUnacked: 5 };

function built(op: ClientOp, ts = 1_000): Command {
  const r = buildCommand(meta, op, ts);
  if (!r.ok) throw new Error(r.error);
  return r.command;
}

describe('encode/decode', () => {
  const ops: ClientOp[] = [
    { type: 'get', key: 'a' },
    { type: 'put', key: 'a', value: '' },
    { type: 'delete', key: 'a' },
    { type: 'incr', key: 'n' },
    { type: 'expire', key: 'a', ttlSeconds: 3 },
    { type: 'mget', keys: ['a', 'b'] },
    { type: 'mput', pairs: [{ key: 'a', value: '1' }, { key: 'b', value: 'ünï' }] },
  ];
  it.each(ops)('round-trips $type', (op) => {
    const command = built(op);
    expect(decodeCommand(encodeCommand(command))).toEqual({ ok: true, command });
  });

  it('turns a ttl into an absolute deadline in log time, rounding up', () => {
    expect(built({ type: 'expire', key: 'a', ttlSeconds: 3 }, 1_000).op).toEqual({ type: 'expire', key: 'a', deadlineMs: 4_000 });
    expect(built({ type: 'expire', key: 'a', ttlSeconds: 0.0001 }, 1_000).op).toEqual({ type: 'expire', key: 'a', deadlineMs: 1_001 });
  });

  it('buildCommand refuses what validateOp refuses, and bad session fields', () => {
    expect(buildCommand(meta, { type: 'get', key: '' }, 1)).toEqual({ ok: false, error: 'key must be a non-empty string' });
    expect(buildCommand({ ...meta, firstUnacked: 8 }, { type: 'get', key: 'a' }, 1)).toEqual({
      ok: false,
      error: 'firstUnacked (8) is above opId (7)',
    });
    expect(buildCommand({ ...meta, clientId: '' }, { type: 'get', key: 'a' }, 1).ok).toBe(false);
  });

  const good = { clientId: 'c', opId: 1, firstUnacked: 0, ts: 5, op: { type: 'get', key: 'a' } };
  const bad: [string, string, string][] = [
    ['not JSON', '{"clientId":', 'malformed command: not JSON'],
    ['an array', '[1,2]', 'malformed command: not a JSON object'],
    ['null', 'null', 'malformed command: not a JSON object'],
    ['a missing field', JSON.stringify({ ...good, ts: undefined }), 'command is missing field "ts"'],
    ['an extra field', JSON.stringify({ ...good, extra: 1 }), 'command has unexpected field "extra"'],
    ['a fractional opId', JSON.stringify({ ...good, opId: 1.5 }), 'opId must be a non-negative integer'],
    ['a string ts', JSON.stringify({ ...good, ts: '5' }), 'ts must be a non-negative integer'],
    ['firstUnacked above opId', JSON.stringify({ ...good, firstUnacked: 2 }), 'firstUnacked (2) is above opId (1)'],
    ['an unknown op', JSON.stringify({ ...good, op: { type: 'cas', key: 'a' } }), 'unknown op type "cas"'],
    ['an op without type', JSON.stringify({ ...good, op: { key: 'a' } }), 'unknown op type undefined'],
    ['an op with an extra field', JSON.stringify({ ...good, op: { type: 'get', key: 'a', x: 1 } }), 'get op has unexpected field "x"'],
    ['a __proto__ field', `{"clientId":"c","opId":1,"firstUnacked":0,"ts":5,"op":{"type":"get","key":"a","__proto__":{}}}`, 'get op has unexpected field "__proto__"'],
    ['a numeric value', JSON.stringify({ ...good, op: { type: 'put', key: 'a', value: 1 } }), 'value must be a string'],
    // The log carries deadlines: a relative ttl there would expire at different times on each replica.
    ['an expire with a ttl', JSON.stringify({ ...good, op: { type: 'expire', key: 'a', ttlSeconds: 1 } }), 'expire op is missing field "deadlineMs"'],
    ['an mput pair that is not an object', JSON.stringify({ ...good, op: { type: 'mput', pairs: ['a'] } }), 'mput pairs[0]: pair must be an object'],
  ];
  it.each(bad)('rejects %s with a clear error', (_, data, error) => {
    const r = decodeCommand(data);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });

  it('never throws, whatever the bytes', () => {
    for (const data of ['', '"', '1', 'true', '{}', '{"op":null}', '\u0000', 'x'.repeat(10_000), undefined as unknown as string]) {
      expect(decodeCommand(data).ok).toBe(false);
    }
  });
});

describe('validateOp limits', () => {
  it('accepts keys, values and batches exactly at the limits', () => {
    expect(validateOp({ type: 'put', key: 'k'.repeat(MAX_KEY_BYTES), value: 'v'.repeat(MAX_VALUE_BYTES) })).toBeNull();
    expect(validateOp({ type: 'mget', keys: Array.from({ length: MAX_BATCH_KEYS }, (_, i) => `k${i}`) })).toBeNull();
    expect(validateOp({ type: 'expire', key: 'a', ttlSeconds: MAX_TTL_SECONDS })).toBeNull();
  });

  it('measures keys and values in UTF-8 bytes, not characters', () => {
    expect(validateOp({ type: 'get', key: 'k'.repeat(700) })).toBe('key is 700 bytes; the limit is 512');
    expect(validateOp({ type: 'get', key: 'é'.repeat(256) })).toBeNull();
    expect(validateOp({ type: 'get', key: 'é'.repeat(257) })).toBe('key is 514 bytes; the limit is 512');
    expect(validateOp({ type: 'put', key: 'a', value: 'v'.repeat(MAX_VALUE_BYTES + 1) })).toBe(
      'value is 65537 bytes; the limit is 65536',
    );
  });

  it('bounds what a whole operation costs once JSON-encoded for the log, where a NUL takes 6 bytes', () => {
    const pairs = (value: string) => Array.from({ length: MAX_BATCH_KEYS }, (_, i) => ({ key: `k${i}`, value }));
    // Values of 64 KiB of text: 23 fit in 1.5 MiB of JSON, 24 do not.
    const text = pairs('v'.repeat(MAX_VALUE_BYTES));
    expect(validateOp({ type: 'mput', pairs: text.slice(0, 23) })).toBeNull();
    expect(validateOp({ type: 'mput', pairs: text.slice(0, 24) })).toMatch(/the limit is 1,572,864 bytes \(1.5 MiB\)/);
    // The same count of NULs: 96 MiB of JSON, though every value is within its own limit.
    const nuls = pairs('\u0000'.repeat(MAX_VALUE_BYTES));
    expect(validateOp({ type: 'mput', pairs: nuls.slice(0, 1) })).toBeNull();
    const error = validateOp({ type: 'mput', pairs: nuls });
    const bytes = Buffer.byteLength(JSON.stringify({ type: 'mput', pairs: nuls })) + 1024;
    expect(error).toBe(
      `mput is ${bytes.toLocaleString('en-US')} bytes once JSON-encoded for the log (where a NUL or other control character takes 6 bytes); ` +
        `the limit is ${MAX_COMMAND_BYTES.toLocaleString('en-US')} bytes (1.5 MiB) per operation`,
    );
    expect(bytes).toBeGreaterThan(6 * MAX_VALUE_BYTES * MAX_BATCH_KEYS);
    // 3 values of 64 KiB of NULs (about 1.1 MiB) fit; 4 do not.
    expect(validateOp({ type: 'mput', pairs: nuls.slice(0, 3) })).toBeNull();
    expect(validateOp({ type: 'mput', pairs: nuls.slice(0, 4) })).toMatch(/the limit is 1,572,864 bytes/);
    expect(buildCommand(meta, { type: 'mput', pairs: nuls }, 1)).toEqual({ ok: false, error });
  });

  it('counts the JSON bytes of an op as JSON.stringify writes them, without building them (escapes, surrogates, any seed)', () => {
    // Quotes, backslashes, short escapes, \u00XX controls, 2- and 3-byte characters, a
    // surrogate pair, lone surrogates (escaped as \uDXXX), plain ASCII.
    const alphabet = ['"', '\\', '\n', '\t', '\u0001', '\u001f', 'é', '€', '😀', '\ud800', '\udfff', 'a', 'z', ' '];
    for (const seed of [1, 2, 3, 4, 5]) {
      const rng = seededRng(seed);
      const text = (n: number) => Array.from({ length: n }, () => alphabet[rng.int(0, alphabet.length)]).join('');
      const op: ClientOp = { type: 'mput', pairs: Array.from({ length: 80 }, (_, i) => ({ key: `k${i}${text(5)}`, value: text(rng.int(9_000, 12_000)) })) };
      const error = validateOp(op);
      const counted = Number(/is ([\d,]+) bytes once JSON-encoded/.exec(error ?? '')?.[1].replace(/,/g, ''));
      expect(counted, `seed ${seed}: ${error}`).toBe(Buffer.byteLength(JSON.stringify(op), 'utf8') + 1024);
    }
  });

  it('refuses empty and non-string keys', () => {
    expect(validateOp({ type: 'incr', key: '' })).toBe('key must be a non-empty string');
    expect(validateOp({ type: 'delete', key: 3 } as unknown as ClientOp)).toBe('key must be a non-empty string');
  });

  it('bounds batches', () => {
    const keys = Array.from({ length: MAX_BATCH_KEYS + 1 }, (_, i) => `k${i}`);
    expect(validateOp({ type: 'mget', keys })).toBe('mget has 257 keys; the limit is 256');
    expect(validateOp({ type: 'mput', pairs: keys.map((key) => ({ key, value: '' })) })).toBe('mput has 257 pairs; the limit is 256');
    expect(validateOp({ type: 'mget', keys: [] })).toBe('mget needs at least one key');
    expect(validateOp({ type: 'mput', pairs: [] })).toBe('mput needs at least one pair');
  });

  it('names the bad item of a batch', () => {
    expect(validateOp({ type: 'mget', keys: ['a', ''] })).toBe('mget keys[1]: key must be a non-empty string');
    expect(validateOp({ type: 'mput', pairs: [{ key: 'a', value: '1' }, { key: 'k'.repeat(600), value: '2' }] })).toBe(
      'mput pairs[1]: key is 600 bytes; the limit is 512',
    );
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses a ttl of %s', (ttlSeconds) => {
    expect(validateOp({ type: 'expire', key: 'a', ttlSeconds })).toMatch(/^ttlSeconds must be a positive finite number of seconds/);
  });

  it('refuses a ttl over 10 years', () => {
    expect(validateOp({ type: 'expire', key: 'a', ttlSeconds: MAX_TTL_SECONDS + 1 })).toBe(
      'ttlSeconds is 315360001; the limit is 315360000 (10 years)',
    );
  });
});
