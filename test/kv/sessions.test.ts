import { describe, expect, it, vi } from 'vitest';
import { MAX_CACHED_RESULTS_PER_CLIENT, MAX_SESSIONS, SESSION_IDLE_MS, SessionTable } from '../../src/kv/sessions.ts';
import { buildCommand, encodeCommand, type ClientOp } from '../../src/kv/command.ts';
import { KvStateMachine } from '../../src/kv/state-machine.ts';
import type { Entry } from '../../src/raft/types.ts';

const ok = (value: string) => ({ ok: true as const, value });

describe('SessionTable', () => {
  it('admits a new opId and answers a repeat from the cache', () => {
    const t = new SessionTable();
    expect(t.admit('c', 1, 0, 0)).toBeNull();
    t.record('c', 1, ok('first'));
    expect(t.admit('c', 1, 0, 0)).toEqual(ok('first'));
    expect(t.admit('other', 1, 0, 0)).toBeNull();
  });

  it('admits opIds out of order', () => {
    const t = new SessionTable();
    expect(t.admit('c', 2, 0, 0)).toBeNull();
    t.record('c', 2, ok('two'));
    expect(t.admit('c', 1, 0, 0)).toBeNull();
    t.record('c', 1, ok('one'));
    expect(t.admit('c', 2, 0, 0)).toEqual(ok('two'));
  });

  it('drops results below firstUnacked and refuses those opIds without applying', () => {
    const t = new SessionTable();
    for (const id of [1, 2, 3]) {
      t.admit('c', id, 1, 0);
      t.record('c', id, ok(String(id)));
    }
    expect(t.admit('c', 4, 3, 0)).toBeNull();
    expect(t.view()).toEqual([{ clientId: 'c', firstUnacked: 3, evictedBelow: 0, lastSeen: 0, cachedOpIds: [3] }]);
    expect(t.admit('c', 2, 1, 0)).toEqual({ ok: false, error: 'duplicate of an operation already answered' });
    expect(t.admit('c', 3, 1, 0)).toEqual(ok('3'));
  });

  it('never lowers firstUnacked', () => {
    const t = new SessionTable();
    t.admit('c', 5, 5, 0);
    t.admit('c', 6, 2, 0);
    expect(t.view()[0].firstUnacked).toBe(5);
  });

  it('caps the cache per client and refuses evicted opIds rather than applying them twice', () => {
    const t = new SessionTable();
    for (let id = 0; id <= MAX_CACHED_RESULTS_PER_CLIENT; id++) {
      expect(t.admit('c', id, 0, 0)).toBeNull();
      t.record('c', id, ok(String(id)));
    }
    const [view] = t.view();
    expect(view.cachedOpIds).toHaveLength(MAX_CACHED_RESULTS_PER_CLIENT);
    expect(view.cachedOpIds[0]).toBe(1);
    expect(t.admit('c', 0, 0, 0)).toEqual({
      ok: false,
      error: `not applied: opId 0 is older than the ${MAX_CACHED_RESULTS_PER_CLIENT} results kept for this client`,
    });
    expect(t.admit('c', 1, 0, 0)).toEqual(ok('1'));
  });
});

describe('SessionTable: expiry by log time', () => {
  const MIN = 60_000;

  it('drops a session idle for more than the limit; one within it keeps exactly-once', () => {
    const t = new SessionTable({ idleMs: 10 * MIN });
    t.admit('idle', 1, 1, 0);
    t.record('idle', 1, ok('a'));
    t.admit('busy', 1, 1, 0);
    t.record('busy', 1, ok('b'));
    // busy keeps working: each command refreshes its session.
    for (let m = 1; m <= 15; m++) {
      expect(t.admit('busy', m + 1, m + 1, m * MIN)).toBeNull();
      t.record('busy', m + 1, ok(String(m + 1)));
    }
    expect(t.view().map((v) => v.clientId)).toEqual(['busy']);
    // A retry of busy's latest op is still answered from its session: not applied again.
    expect(t.admit('busy', 16, 16, 15 * MIN)).toEqual(ok('16'));
    // idle's retry now finds no session: this is the documented bound.
    expect(t.admit('idle', 1, 1, 15 * MIN)).toBeNull();
  });

  it('the limit is inclusive: exactly idleMs later the session is still there', () => {
    const t = new SessionTable({ idleMs: 10 * MIN });
    t.admit('c', 1, 1, 0);
    t.record('c', 1, ok('x'));
    t.admit('other', 1, 1, 10 * MIN);
    expect(t.view().map((v) => v.clientId)).toEqual(['c', 'other']);
    t.admit('other', 2, 2, 10 * MIN + 1);
    expect(t.view().map((v) => v.clientId)).toEqual(['other']);
  });

  it('keeps at most maxSessions, dropping the one idle longest (LRU by log time)', () => {
    const t = new SessionTable({ maxSessions: 3 });
    for (const [i, id] of ['a', 'b', 'c'].entries()) {
      t.admit(id, 1, 1, i);
      t.record(id, 1, ok(id));
    }
    t.admit('a', 2, 2, 10); // a is now the most recent
    t.record('a', 2, ok('a2'));
    t.admit('d', 1, 1, 11);
    expect(t.view().map((v) => v.clientId)).toEqual(['a', 'c', 'd']);
    expect(t.admit('a', 2, 2, 12)).toEqual(ok('a2'));
  });

  it('defaults: an hour idle, 10,000 sessions', () => {
    expect(SESSION_IDLE_MS).toBe(60 * MIN);
    expect(MAX_SESSIONS).toBe(10_000);
  });
});

describe('KvStateMachine: sessions expire identically on every replica', () => {
  function entry(index: number, clientId: string, opId: number, op: ClientOp, ts: number): Entry {
    const built = buildCommand({ clientId, opId, firstUnacked: opId }, op, ts);
    if (!built.ok) throw new Error(built.error);
    return { index, term: 1, kind: 'command', data: encodeCommand(built.command) };
  }

  it('uses the log time of the commands, not the clock at apply time', () => {
    const HOUR = SESSION_IDLE_MS;
    const log = [
      entry(1, 'cli-1', 1, { type: 'incr', key: 'visits' }, 1_000),
      entry(2, 'steady', 1, { type: 'put', key: 'k', value: 'v' }, 1_000 + HOUR / 2),
      entry(3, 'steady', 2, { type: 'put', key: 'k', value: 'v' }, 1_000 + HOUR + 1),
      // A late copy of cli-1's op 1 (a retry) after its session expired.
      entry(4, 'cli-1', 1, { type: 'incr', key: 'visits' }, 1_000 + HOUR + 2),
      // steady's retry of op 2 within the hour: answered from its session.
      entry(5, 'steady', 2, { type: 'put', key: 'k', value: 'v' }, 1_000 + HOUR + 3),
    ];
    const replicas = [new KvStateMachine(), new KvStateMachine()];
    const results = replicas.map((sm, i) => {
      // Different wall clocks at apply time change nothing.
      const spy = vi.spyOn(Date, 'now').mockReturnValue(i === 0 ? 0 : 9e12);
      try {
        return log.map((e) => sm.apply(e));
      } finally {
        spy.mockRestore();
      }
    });
    expect(results[0]).toEqual(results[1]);
    expect(replicas[0].snapshotForTest()).toEqual(replicas[1].snapshotForTest());
    expect(results[0][2]?.duplicate).toBe(false);
    expect(results[0][4]?.duplicate).toBe(true);
    // After the expiry, cli-1's session had gone: the bound, documented in sessions.ts.
    expect(results[0][3]?.duplicate).toBe(false);
    expect(replicas[0].snapshotForTest().sessions.map((s) => s.clientId)).toEqual(['cli-1', 'steady']);
  });
});
