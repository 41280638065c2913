import { describe, expect, it } from 'vitest';
import { decodeKvSnapshot, encodeKvSnapshot } from '../../src/kv/snapshot-format.ts';
import { KvStateMachine } from '../../src/kv/state-machine.ts';
import { applyConfChange, confOfVoters, encodeConfEntry, type ConfChange } from '../../src/raft/conf-change.ts';
import type { ConfState, Entry } from '../../src/raft/types.ts';
import { encodeMemberContext, memberAddrOf, Membership } from '../../src/server/membership.ts';

const founders = [
  { id: 'a', addr: 'h:1' },
  { id: 'b', addr: 'h:2' },
  { id: 'c', addr: 'h:3' },
];

/** A config entry at `index` applying `change` to `conf`; returns it and the configuration it puts in force. */
function configEntry(index: number, conf: ConfState, change: ConfChange): [Entry, ConfState] {
  const next = applyConfChange(conf, change);
  return [{ index, term: 1, kind: 'config', data: encodeConfEntry({ change, conf: next }) }, next];
}

describe('Membership (server side of Raft §6)', () => {
  it('learns an added member\'s address from the context when appended, its role when applied, and removals', () => {
    const m = new Membership('a', founders);
    let conf = confOfVoters(['a', 'b', 'c']);
    let e: Entry;
    [e, conf] = configEntry(5, conf, { changes: [{ type: 'addLearnerNode', nodeId: 'd' }], context: encodeMemberContext('h:4') });
    m.noteAppended([e]);
    expect(m.addrOf('d')).toBe('h:4');
    expect(m.conf.learners).toEqual([]);
    expect(m.apply(e)).toBe(false);
    expect(m.conf.learners).toEqual(['d']);
    // Removing c: joint first (c still a member, outgoing), then C_new.
    [e, conf] = configEntry(6, conf, { changes: [{ type: 'removeNode', nodeId: 'c' }] });
    expect(m.apply(e)).toBe(false);
    expect(m.removedIndex('c')).toBeUndefined();
    [e, conf] = configEntry(7, conf, { changes: [] });
    expect(m.apply(e)).toBe(false);
    expect(m.removedIndex('c')).toBe(7);
    expect(m.addrOf('c')).toBeUndefined();
    // The snapshot records all of it, and a fresh server restores it.
    const snap = m.snapshot();
    expect(snap).toEqual({ conf: { voters: ['a', 'b'], learners: ['d'], votersOutgoing: [] }, addrs: { a: 'h:1', b: 'h:2', d: 'h:4' }, removed: { c: 7 } });
    const r = new Membership('d', founders);
    r.restore(snap, 7);
    expect(r.conf).toEqual(snap.conf);
    expect(r.addrOf('d')).toBe('h:4');
    expect(r.removedIndex('c')).toBe(7);
  });

  it('says when an applied configuration removes this server; a joiner is never "removed" by older entries', () => {
    const c = new Membership('c', founders);
    let conf = confOfVoters(['a', 'b', 'c']);
    let e: Entry;
    [e, conf] = configEntry(2, conf, { changes: [{ type: 'removeNode', nodeId: 'c' }] });
    expect(c.apply(e)).toBe(false);
    [e] = configEntry(3, conf, { changes: [] });
    expect(c.apply(e)).toBe(true);

    const joiner = new Membership('z', founders, [{ id: 'a', addr: 'h:1' }]);
    let conf2 = confOfVoters(['a', 'b', 'c']);
    [e, conf2] = configEntry(2, conf2, { changes: [{ type: 'removeNode', nodeId: 'b' }] });
    expect(joiner.apply(e)).toBe(false);
    [e, conf2] = configEntry(3, conf2, { changes: [] });
    expect(joiner.apply(e)).toBe(false);
    [e] = configEntry(4, conf2, { changes: [{ type: 'addLearnerNode', nodeId: 'z' }], context: encodeMemberContext('h:9') });
    expect(joiner.apply(e)).toBe(false);
    expect(joiner.conf.learners).toEqual(['z']);
  });

  it('a context that is not ours names no address', () => {
    expect(memberAddrOf({ changes: [], context: 'req-17' })).toBeNull();
    expect(memberAddrOf({ changes: [] })).toBeNull();
    expect(memberAddrOf({ changes: [], context: encodeMemberContext('h:1') })).toBe('h:1');
  });
});

describe('KV snapshots carry the membership', () => {
  it('round-trips it; a snapshot written before membership changes (none) still loads', () => {
    const membership = { conf: { voters: ['a'], learners: ['d'], votersOutgoing: [] }, addrs: { a: 'h:1', d: 'h:4' }, removed: { c: 7 } };
    const kv = new KvStateMachine();
    kv.apply({ index: 1, term: 1, kind: 'noop', data: '' });
    expect(new KvStateMachine().restore(kv.snapshot(membership), 1)).toEqual(membership);
    const old = encodeKvSnapshot({ lastApplied: 1, logicalNow: 0, keys: [['k', 'v']], sessions: [] });
    expect(decodeKvSnapshot(old).membership).toBeUndefined();
    expect(new KvStateMachine().restore(old, 1)).toBeUndefined();
    const bad = Buffer.from(JSON.stringify({ version: 1, lastApplied: 1, logicalNow: 0, keys: [], sessions: [], membership: { conf: 'x' } }));
    expect(() => decodeKvSnapshot(bad)).toThrow(/membership is not/);
  });
});
