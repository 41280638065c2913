import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Entry } from '../../src/raft/types.ts';
import { buildCommand, encodeCommand, type ClientOp } from '../../src/kv/command.ts';
import { KvStateMachine, type ApplyResult } from '../../src/kv/state-machine.ts';

/** A log under construction; commands go through buildCommand as a leader's would. */
class TestLog {
  readonly entries: Entry[] = [];

  command(clientId: string, opId: number, op: ClientOp, ts: number, firstUnacked = 0): Entry {
    const built = buildCommand({ clientId, opId, firstUnacked }, op, ts);
    if (!built.ok) throw new Error(built.error);
    return this.raw(encodeCommand(built.command));
  }

  raw(data: string): Entry {
    return this.push({ index: this.entries.length + 1, term: 1, kind: 'command', data });
  }

  noop(): Entry {
    return this.push({ index: this.entries.length + 1, term: 1, kind: 'noop', data: '' });
  }

  private push(entry: Entry): Entry {
    this.entries.push(entry);
    return entry;
  }
}

/** One client on one replica, numbering its ops; `apply` returns just the result. */
function setup() {
  const sm = new KvStateMachine();
  const log = new TestLog();
  let opId = 0;
  const apply = (op: ClientOp, ts = 1_000) => {
    const r = sm.apply(log.command('c', ++opId, op, ts));
    if (r === null) throw new Error('a command applied as a noop');
    return r.result;
  };
  const get = (key: string, now = 0) => sm.read({ type: 'get', key }, now);
  return { sm, log, apply, get };
}

const ok = (value: string) => ({ ok: true, value });

describe('KvStateMachine operations', () => {
  it('reads a never-written key as the empty value, through the log and outside it', () => {
    const { apply, get } = setup();
    expect(get('nope')).toEqual(ok(''));
    expect(apply({ type: 'get', key: 'nope' })).toEqual(ok(''));
  });

  it('put, get, delete', () => {
    const { apply, get } = setup();
    expect(apply({ type: 'put', key: 'a', value: 'x' })).toEqual(ok('x'));
    expect(apply({ type: 'get', key: 'a' })).toEqual(ok('x'));
    expect(get('a')).toEqual(ok('x'));
    expect(apply({ type: 'delete', key: 'a' })).toEqual(ok('x'));
    expect(get('a')).toEqual(ok(''));
    expect(apply({ type: 'delete', key: 'a' })).toEqual(ok(''));
  });

  it('mget answers "" for missing keys; mput writes every pair', () => {
    const { sm, apply } = setup();
    expect(apply({ type: 'mput', pairs: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }] })).toEqual(ok('2'));
    const expected = { ok: true, value: '', values: ['1', '', '2'] };
    expect(apply({ type: 'mget', keys: ['a', 'zz', 'b'] })).toEqual(expected);
    expect(sm.read({ type: 'mget', keys: ['a', 'zz', 'b'] }, 0)).toEqual(expected);
  });

  it('incr starts a missing key at 0 and counts in decimal', () => {
    const { apply, get } = setup();
    expect(apply({ type: 'incr', key: 'n' })).toEqual(ok('1'));
    expect(apply({ type: 'incr', key: 'n' })).toEqual(ok('2'));
    apply({ type: 'put', key: 'm', value: '-2' });
    expect(apply({ type: 'incr', key: 'm' })).toEqual(ok('-1'));
    expect(apply({ type: 'incr', key: 'm' })).toEqual(ok('0'));
    expect(get('n')).toEqual(ok('2'));
  });

  it.each(['abc', '1.5', '', ' 1', '1e3', '0x10'])('incr of the non-integer %j is an error and changes nothing', (value) => {
    const { sm, apply } = setup();
    apply({ type: 'put', key: 'n', value });
    const before = sm.snapshotForTest().keys;
    expect(apply({ type: 'incr', key: 'n' })).toEqual({ ok: false, error: 'incr: the value of "n" is not a base-10 integer' });
    expect(sm.snapshotForTest().keys).toEqual(before);
  });

  it('incr refuses to pass Number.MAX_SAFE_INTEGER', () => {
    const { apply, get } = setup();
    const max = String(Number.MAX_SAFE_INTEGER);
    apply({ type: 'put', key: 'n', value: String(Number.MAX_SAFE_INTEGER - 1) });
    expect(apply({ type: 'incr', key: 'n' })).toEqual(ok(max));
    expect(apply({ type: 'incr', key: 'n' })).toEqual({
      ok: false,
      error: `incr: "n" would overflow Number.MAX_SAFE_INTEGER (${max})`,
    });
    expect(get('n')).toEqual(ok(max));
    apply({ type: 'put', key: 'big', value: '99999999999999999999' });
    expect(apply({ type: 'incr', key: 'big' })).toEqual({
      ok: false,
      error: 'incr: the value of "big" is outside the safe integer range',
    });
    expect(get('big')).toEqual(ok('99999999999999999999'));
  });

  it('read refuses an invalid op instead of answering it', () => {
    const { sm } = setup();
    expect(sm.read({ type: 'get', key: 'k'.repeat(700) }, 0)).toEqual({ ok: false, error: 'key is 700 bytes; the limit is 512' });
  });
});

describe('expiry', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('happens at the same log point on replicas whose wall clocks disagree', () => {
    const log = new TestLog();
    log.command('c', 1, { type: 'put', key: 'a', value: 'x' }, 1_000);
    log.command('c', 2, { type: 'expire', key: 'a', ttlSeconds: 5 }, 1_000);
    log.command('c', 3, { type: 'get', key: 'a' }, 5_999);
    log.command('c', 4, { type: 'get', key: 'a' }, 6_000);
    log.command('c', 5, { type: 'incr', key: 'a' }, 6_000);
    log.command('c', 6, { type: 'put', key: 'b', value: 'y' }, 6_000);
    log.command('c', 7, { type: 'expire', key: 'b', ttlSeconds: 1 }, 6_000);

    const run = (wallClock: Date) => {
      vi.useFakeTimers();
      vi.setSystemTime(wallClock);
      const sm = new KvStateMachine();
      const results = log.entries.map((e) => sm.apply(e));
      vi.useRealTimers();
      return { results, snapshot: sm.snapshotForTest() };
    };
    const early = run(new Date('1990-01-01T00:00:00Z'));
    const late = run(new Date('2100-01-01T00:00:00Z'));

    expect(early).toEqual(late);
    expect(early.results.map((r) => r?.result)).toEqual([ok('x'), ok('1'), ok('x'), ok(''), ok('1'), ok('y'), ok('1')]);
    // The expired "a" was removed by the incr's write and came back without a ttl.
    expect(early.snapshot.keys).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: 'y', deadlineMs: 7_000 },
    ]);
    expect(early.snapshot.logicalNow).toBe(6_000);
  });

  it('reads see a key until its deadline and not from then on', () => {
    const { apply, get } = setup();
    apply({ type: 'put', key: 'a', value: 'x' }, 1_000);
    apply({ type: 'expire', key: 'a', ttlSeconds: 2 }, 1_000);
    expect(get('a', 2_999)).toEqual(ok('x'));
    expect(get('a', 3_000)).toEqual(ok(''));
  });

  it('a read never goes back before log time, whatever clock the reader passes', () => {
    const { apply, get } = setup();
    apply({ type: 'put', key: 'a', value: 'x' }, 1_000);
    apply({ type: 'expire', key: 'a', ttlSeconds: 2 }, 1_000);
    apply({ type: 'put', key: 'other', value: '' }, 4_000);
    expect(get('a', 0)).toEqual(ok(''));
  });

  it('log time is the largest ts applied, even if a later leader clock is behind', () => {
    const { sm, apply, get } = setup();
    apply({ type: 'put', key: 'a', value: 'x' }, 1_000);
    apply({ type: 'expire', key: 'a', ttlSeconds: 2 }, 1_000);
    apply({ type: 'put', key: 'other', value: '' }, 5_000);
    expect(apply({ type: 'get', key: 'a' }, 2_000)).toEqual(ok(''));
    expect(sm.logicalNow).toBe(5_000);
    expect(get('a')).toEqual(ok(''));
  });

  it('put clears a ttl; incr keeps it', () => {
    const { apply, get } = setup();
    apply({ type: 'put', key: 'p', value: '1' }, 1_000);
    apply({ type: 'expire', key: 'p', ttlSeconds: 1 }, 1_000);
    apply({ type: 'put', key: 'p', value: '2' }, 1_500);
    expect(get('p', 1_000_000)).toEqual(ok('2'));

    apply({ type: 'put', key: 'n', value: '1' }, 1_500);
    apply({ type: 'expire', key: 'n', ttlSeconds: 1 }, 1_500);
    expect(apply({ type: 'incr', key: 'n' }, 1_600)).toEqual(ok('2'));
    expect(get('n', 2_499)).toEqual(ok('2'));
    expect(get('n', 2_500)).toEqual(ok(''));
  });

  it('expire of a missing or expired key answers "0" and creates nothing', () => {
    const { sm, apply } = setup();
    expect(apply({ type: 'expire', key: 'ghost', ttlSeconds: 1 })).toEqual(ok('0'));
    expect(sm.snapshotForTest().keys).toEqual([]);
  });
});

describe('exactly-once', () => {
  it('applies a retried (clientId, opId) once and answers it with the first result', () => {
    const sm = new KvStateMachine();
    const log = new TestLog();
    const first = sm.apply(log.command('c', 1, { type: 'incr', key: 'n' }, 1_000));
    const retry = sm.apply(log.command('c', 1, { type: 'incr', key: 'n' }, 2_000));
    expect(first?.result).toEqual(ok('1'));
    expect(first?.duplicate).toBe(false);
    expect(retry).toEqual({ index: 2, clientId: 'c', opId: 1, result: ok('1'), duplicate: true });
    expect(sm.read({ type: 'get', key: 'n' }, 0)).toEqual(ok('1'));
  });

  it('a late retry does not undo a later write', () => {
    const sm = new KvStateMachine();
    const log = new TestLog();
    sm.apply(log.command('c', 1, { type: 'put', key: 'a', value: 'old' }, 1));
    sm.apply(log.command('c', 2, { type: 'put', key: 'a', value: 'new' }, 1, 2));
    expect(sm.apply(log.command('c', 1, { type: 'put', key: 'a', value: 'old' }, 1, 1))?.result).toEqual({
      ok: false,
      error: 'duplicate of an operation already answered',
    });
    expect(sm.read({ type: 'get', key: 'a' }, 0)).toEqual(ok('new'));
  });

  it('caches an error result too, so a retry cannot succeed where the first try failed', () => {
    const sm = new KvStateMachine();
    const log = new TestLog();
    sm.apply(log.command('c', 1, { type: 'put', key: 'n', value: 'text' }, 1));
    const failed = sm.apply(log.command('c', 2, { type: 'incr', key: 'n' }, 1))?.result;
    expect(failed?.ok).toBe(false);
    sm.apply(log.command('other', 1, { type: 'put', key: 'n', value: '5' }, 1));
    expect(sm.apply(log.command('c', 2, { type: 'incr', key: 'n' }, 1))?.result).toEqual(failed);
    expect(sm.read({ type: 'get', key: 'n' }, 0)).toEqual(ok('5'));
  });

  it('applies opIds of one client that arrive out of order', () => {
    const sm = new KvStateMachine();
    const log = new TestLog();
    expect(sm.apply(log.command('c', 2, { type: 'incr', key: 'x' }, 1))?.result).toEqual(ok('1'));
    expect(sm.apply(log.command('c', 1, { type: 'incr', key: 'y' }, 1))?.result).toEqual(ok('1'));
    expect(sm.apply(log.command('c', 2, { type: 'incr', key: 'x' }, 1))?.result).toEqual(ok('1'));
    expect(sm.read({ type: 'mget', keys: ['x', 'y'] }, 0)).toEqual({ ok: true, value: '', values: ['1', '1'] });
  });

  it('keeps the same opId of different clients apart', () => {
    const sm = new KvStateMachine();
    const log = new TestLog();
    sm.apply(log.command('a', 1, { type: 'incr', key: 'n' }, 1));
    expect(sm.apply(log.command('b', 1, { type: 'incr', key: 'n' }, 1))?.result).toEqual(ok('2'));
  });

  it('drops cached results below firstUnacked', () => {
    const sm = new KvStateMachine();
    const log = new TestLog();
    for (const opId of [1, 2, 3]) sm.apply(log.command('c', opId, { type: 'incr', key: 'n' }, 1));
    expect(sm.snapshotForTest().sessions[0].cachedOpIds).toEqual([1, 2, 3]);
    sm.apply(log.command('c', 4, { type: 'incr', key: 'n' }, 1, 3));
    expect(sm.snapshotForTest().sessions).toEqual([{ clientId: 'c', firstUnacked: 3, evictedBelow: 0, lastSeen: 1, cachedOpIds: [3, 4] }]);
    expect(sm.apply(log.command('c', 3, { type: 'incr', key: 'n' }, 1, 3))?.result).toEqual(ok('3'));
    expect(sm.apply(log.command('c', 2, { type: 'incr', key: 'n' }, 1, 2))?.result).toEqual({
      ok: false,
      error: 'duplicate of an operation already answered',
    });
    expect(sm.read({ type: 'get', key: 'n' }, 0)).toEqual(ok('4'));
  });
});

describe('applying the log', () => {
  const good = { clientId: 'c', opId: 1, firstUnacked: 0, ts: 1, op: { type: 'put', key: 'a', value: 'x' } };

  it('turns malformed data into an error result and keeps going', () => {
    const sm = new KvStateMachine();
    const log = new TestLog();
    const results: (ApplyResult | null)[] = [
      sm.apply(log.raw('not json')),
      sm.apply(log.raw(JSON.stringify({ ...good, op: { type: 'nuke' } }))),
      sm.apply(log.raw(JSON.stringify({ ...good, opId: -1 }))),
    ];
    for (const [i, r] of results.entries()) {
      expect(r).toMatchObject({ index: i + 1, clientId: null, opId: null, result: { ok: false } });
      if (r && !r.result.ok) expect(r.result.error).toMatch(/^malformed command: /);
    }
    expect(sm.lastApplied).toBe(3);
    expect(sm.apply(log.raw(JSON.stringify(good)))).toEqual({ index: 4, clientId: 'c', opId: 1, result: ok('x'), duplicate: false });
  });

  it('applies nothing of an mput with one bad pair', () => {
    const sm = new KvStateMachine();
    const log = new TestLog();
    const pairs = [
      { key: 'a', value: '1' },
      { key: 'k'.repeat(600), value: '2' },
    ];
    const r = sm.apply(log.raw(JSON.stringify({ ...good, op: { type: 'mput', pairs } })));
    expect(r?.result).toEqual({ ok: false, error: 'malformed command: mput pairs[1]: key is 600 bytes; the limit is 512' });
    expect(sm.snapshotForTest().keys).toEqual([]);
    expect(sm.snapshotForTest().sessions).toEqual([]);
  });

  it('answers a noop with null and counts it as applied', () => {
    const sm = new KvStateMachine();
    const log = new TestLog();
    expect(sm.apply(log.noop())).toBeNull();
    expect(sm.lastApplied).toBe(1);
    expect(sm.snapshotForTest().logicalNow).toBe(0);
  });

  it('throws on an entry out of index order: that is the caller\'s bug', () => {
    const sm = new KvStateMachine();
    const log = new TestLog();
    const first = log.noop();
    const second = log.noop();
    expect(() => sm.apply(second)).toThrow('apply out of order: got index 2, expected 1');
    sm.apply(first);
    expect(() => sm.apply(first)).toThrow('apply out of order: got index 1, expected 2');
    expect(sm.lastApplied).toBe(1);
  });
});
