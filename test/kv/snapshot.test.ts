import { describe, expect, it } from 'vitest';
import { buildCommand, encodeCommand, type ClientOp } from '../../src/kv/command.ts';
import { MAX_SESSIONS } from '../../src/kv/sessions.ts';
import { encodeKvSnapshot } from '../../src/kv/snapshot-format.ts';
import { KvStateMachine } from '../../src/kv/state-machine.ts';
import { seededRng } from '../../src/raft/rng.ts';
import type { Entry } from '../../src/raft/types.ts';

function command(index: number, clientId: string, opId: number, op: ClientOp, ts: number, firstUnacked = 0): Entry {
  const built = buildCommand({ clientId, opId, firstUnacked }, op, ts);
  if (!built.ok) throw new Error(built.error);
  return { index, term: 1, kind: 'command', data: encodeCommand(built.command) };
}

/** A seeded log of puts, incrs, deletes, expires and retries over few keys and clients, with log time moving on. */
function randomLog(seed: number, length: number): Entry[] {
  const rng = seededRng(seed);
  const rand = () => rng.next();
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const opIds = new Map<string, number>();
  const entries: Entry[] = [];
  let ts = 1_000;
  for (let index = 1; index <= length; index++) {
    ts += Math.floor(rand() * 700);
    if (rand() < 0.05) {
      entries.push({ index, term: 1, kind: 'noop', data: '' });
      continue;
    }
    const clientId = pick(['a', 'b', 'c']);
    const retry = rand() < 0.15 && (opIds.get(clientId) ?? 0) > 0;
    const opId = retry ? opIds.get(clientId)! : (opIds.get(clientId) ?? 0) + 1;
    opIds.set(clientId, opId);
    const key = pick(['k1', 'k2', 'k3', 'n']);
    const op: ClientOp = pick<ClientOp>([
      { type: 'put', key, value: `v${index}` },
      { type: 'incr', key: 'n' },
      { type: 'delete', key },
      { type: 'expire', key, ttlSeconds: 1 + Math.floor(rand() * 3) },
      { type: 'get', key },
    ]);
    entries.push(command(index, clientId, opId, op, ts, Math.max(0, opId - 3)));
  }
  return entries;
}

describe('KV state machine snapshots', () => {
  it('a replica restored from a snapshot at any index then behaves exactly as one that applied the whole log', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const log = randomLog(seed, 300);
      const at = 50 + seed * 37;
      const full = new KvStateMachine();
      const source = new KvStateMachine();
      for (const e of log.slice(0, at)) source.apply(e);
      const restored = new KvStateMachine();
      restored.restore(source.snapshot(), at);
      expect(restored.lastApplied, `seed ${seed}`).toBe(at);
      const fullResults = log.map((e) => full.apply(e));
      const restoredResults = log.slice(at).map((e) => restored.apply(e));
      expect(restoredResults, `seed ${seed}`).toEqual(fullResults.slice(at));
      expect(restored.snapshotForTest(), `seed ${seed}`).toEqual(full.snapshotForTest());
      expect(Buffer.from(restored.snapshot()).equals(Buffer.from(full.snapshot())), `seed ${seed}`).toBe(true);
    }
  });

  it('keeps exactly-once across compaction: a retry of an op the snapshot covers is answered, not applied again', () => {
    const sm = new KvStateMachine();
    sm.apply(command(1, 'c', 1, { type: 'incr', key: 'n' }, 1_000));
    const restored = new KvStateMachine();
    restored.restore(sm.snapshot(), 1);
    const retry = restored.apply(command(2, 'c', 1, { type: 'incr', key: 'n' }, 1_001));
    expect(retry?.duplicate).toBe(true);
    expect(retry?.result).toEqual({ ok: true, value: '1' });
    expect(restored.read({ type: 'get', key: 'n' }, 0)).toEqual({ ok: true, value: '1' });
  });

  it('keeps TTL deadlines and log time: a key expires at the same entry after a restore', () => {
    const sm = new KvStateMachine();
    sm.apply(command(1, 'c', 1, { type: 'put', key: 'a', value: 'x' }, 1_000));
    sm.apply(command(2, 'c', 2, { type: 'expire', key: 'a', ttlSeconds: 5 }, 1_000));
    const restored = new KvStateMachine();
    restored.restore(sm.snapshot(), 2);
    expect(restored.logicalNow).toBe(1_000);
    // A reader's clock behind log time cannot bring the key back, nor one before the deadline remove it.
    expect(restored.read({ type: 'get', key: 'a' }, 0)).toEqual({ ok: true, value: 'x' });
    expect(restored.apply(command(3, 'c', 3, { type: 'get', key: 'a' }, 5_999))?.result).toEqual({ ok: true, value: 'x' });
    expect(restored.apply(command(4, 'c', 4, { type: 'get', key: 'a' }, 6_000))?.result).toEqual({ ok: true, value: '' });
  });

  it('keeps the order of sessions, so a full table drops the same session on every replica', () => {
    const sm = new KvStateMachine();
    let index = 0;
    // 'old' is touched first, then MAX_SESSIONS others: the table is full with 'old' least recent.
    sm.apply(command(++index, 'old', 1, { type: 'put', key: 'k', value: 'v' }, 1_000));
    for (let i = 0; i < MAX_SESSIONS - 1; i++) sm.apply(command(++index, `c${i}`, 1, { type: 'get', key: 'k' }, 1_000));
    const restored = new KvStateMachine();
    restored.restore(sm.snapshot(), index);
    for (const replica of [sm, restored]) replica.apply(command(index + 1, 'new', 1, { type: 'get', key: 'k' }, 1_000));
    expect(restored.snapshotForTest().sessions).toEqual(sm.snapshotForTest().sessions);
    expect(restored.snapshotForTest().sessions.some((s) => s.clientId === 'old')).toBe(false);
  });

  it('refuses bytes that are not a snapshot it reads, and changes nothing', () => {
    const sm = new KvStateMachine();
    sm.apply(command(1, 'c', 1, { type: 'put', key: 'a', value: 'x' }, 1_000));
    const good = sm.snapshot();
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, good.length - 3), /not valid JSON/],
      [Buffer.from(JSON.stringify({ version: 99, lastApplied: 1, logicalNow: 0, keys: [], sessions: [] })), /version 99/],
      [Buffer.from(JSON.stringify({ version: 1, lastApplied: 1, logicalNow: 0, keys: [['a']], sessions: [] })), /keys/],
      [Buffer.from(JSON.stringify({ version: 1, lastApplied: 1, logicalNow: 0, keys: [], sessions: [{ clientId: 'c' }] })), /sessions/],
    ];
    for (const [data, message] of cases) expect(() => sm.restore(data, 1)).toThrow(message);
    expect(() => sm.restore(encodeKvSnapshot({ lastApplied: 7, logicalNow: 0, keys: [], sessions: [] }), 8)).toThrow(/up to 7, but Raft says it covers 8/);
    expect(sm.read({ type: 'get', key: 'a' }, 0)).toEqual({ ok: true, value: 'x' });
    expect(sm.lastApplied).toBe(1);
  });
});

describe('expired keys leave the state machine', () => {
  it('at the first command applied at or after their deadline, on every replica, so a snapshot no longer holds them', () => {
    const sm = new KvStateMachine();
    sm.apply(command(1, 'c', 1, { type: 'put', key: 'a', value: 'x' }, 1_000));
    sm.apply(command(2, 'c', 2, { type: 'expire', key: 'a', ttlSeconds: 1 }, 1_000));
    sm.apply(command(3, 'c', 3, { type: 'put', key: 'b', value: 'y' }, 1_999));
    expect(sm.snapshotForTest().keys.map((k) => k.key)).toEqual(['a', 'b']);
    sm.apply(command(4, 'c', 4, { type: 'put', key: 'c', value: 'z' }, 2_000));
    expect(sm.snapshotForTest().keys.map((k) => k.key)).toEqual(['b', 'c']);
    expect(sm.dataBytes).toBe(4);
  });
});
