import { describe, expect, it } from 'vitest';
import {
  applyConfChange,
  ConfChangeError,
  confOfVoters,
  confStatesEqual,
  decodeConfChange,
  decodeConfEntry,
  encodeConfChange,
  encodeConfEntry,
  isJoint,
  LEAVE_JOINT,
  members,
  type ConfChange,
} from '../../src/raft/conf-change.ts';
import type { ConfState } from '../../src/raft/types.ts';

const abc = confOfVoters(['a', 'b', 'c']);
const cc = (...changes: ConfChange['changes']): ConfChange => ({ changes });

describe('ConfChange: what each change makes of a configuration', () => {
  it('adding a voter enters the joint configuration C_old,new; leaving it gives C_new', () => {
    const joint = applyConfChange(abc, cc({ type: 'addNode', nodeId: 'd' }));
    expect(joint).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [], votersOutgoing: ['a', 'b', 'c'] });
    expect(isJoint(joint)).toBe(true);
    expect(applyConfChange(joint, LEAVE_JOINT)).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [], votersOutgoing: [] });
  });

  it('several changes at once, a promotion among them, go through one joint configuration', () => {
    const withLearner: ConfState = { voters: ['a', 'b', 'c'], learners: ['d'], votersOutgoing: [] };
    const joint = applyConfChange(withLearner, cc({ type: 'addNode', nodeId: 'd' }, { type: 'removeNode', nodeId: 'a' }, { type: 'addLearnerNode', nodeId: 'e' }));
    expect(joint).toEqual({ voters: ['b', 'c', 'd'], learners: ['e'], votersOutgoing: ['a', 'b', 'c'] });
    expect(members(joint).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(members(applyConfChange(joint, LEAVE_JOINT)).sort()).toEqual(['b', 'c', 'd', 'e']);
  });

  it('learner-only changes apply at once, without a joint configuration', () => {
    const added = applyConfChange(abc, cc({ type: 'addLearnerNode', nodeId: 'l' }));
    expect(added).toEqual({ voters: ['a', 'b', 'c'], learners: ['l'], votersOutgoing: [] });
    expect(applyConfChange(added, cc({ type: 'removeNode', nodeId: 'l' }))).toEqual({ voters: ['a', 'b', 'c'], learners: [], votersOutgoing: [] });
  });

  it.each([
    ['a change while joint', applyConfChange(abc, cc({ type: 'addNode', nodeId: 'd' })), cc({ type: 'addNode', nodeId: 'e' }), /joint configuration is in force/],
    ['leaving when not joint', abc, LEAVE_JOINT, /nothing to leave/],
    ['adding a voter twice', abc, cc({ type: 'addNode', nodeId: 'a' }), /already a voter/],
    ['demoting a voter', abc, cc({ type: 'addLearnerNode', nodeId: 'a' }), /demoting is not supported/],
    ['removing a stranger', abc, cc({ type: 'removeNode', nodeId: 'z' }), /not a member/],
    ['one node twice', abc, cc({ type: 'addNode', nodeId: 'd' }, { type: 'removeNode', nodeId: 'd' }), /twice/],
    ['an empty id', abc, cc({ type: 'addNode', nodeId: '' }), /node id/],
    ['no voter left', confOfVoters(['a']), cc({ type: 'removeNode', nodeId: 'a' }), /no voter/],
  ])('refuses %s, leaving the configuration as it was', (_what, from, change, error) => {
    const copy = JSON.parse(JSON.stringify(from)) as ConfState;
    expect(() => applyConfChange(from, change)).toThrow(ConfChangeError);
    expect(() => applyConfChange(from, change)).toThrow(error);
    expect(from).toEqual(copy);
  });

  it('configurations are frozen: a caller cannot change the core’s by accident', () => {
    const next = applyConfChange(abc, cc({ type: 'addLearnerNode', nodeId: 'l' }));
    expect(() => (next.voters as string[]).push('x')).toThrow();
  });

  it('confStatesEqual ignores order, not roles', () => {
    expect(confStatesEqual(confOfVoters(['a', 'b']), confOfVoters(['b', 'a']))).toBe(true);
    expect(confStatesEqual(confOfVoters(['a', 'b']), { voters: ['a'], learners: ['b'], votersOutgoing: [] })).toBe(false);
  });
});

describe('encoding', () => {
  it('a config entry round-trips, and so does a ConfChange', () => {
    const change = cc({ type: 'addNode', nodeId: 'd' });
    const conf = applyConfChange(abc, change);
    const decoded = decodeConfEntry(encodeConfEntry({ change: { ...change, context: 'req-1' }, conf }));
    expect(decoded).toEqual({ change: { ...change, context: 'req-1' }, conf });
    expect(decodeConfChange(encodeConfChange(change))).toEqual(change);
  });

  it.each([
    ['not JSON', '{', /malformed JSON/],
    ['no change', JSON.stringify({ conf: abc }), /changes array/],
    ['an unknown change', JSON.stringify({ change: { changes: [{ type: 'promote', nodeId: 'a' }] }, conf: abc }), /unknown change type/],
    ['no conf', JSON.stringify({ change: { changes: [] } }), /ConfState/],
    ['a voter that is a learner', JSON.stringify({ change: { changes: [] }, conf: { voters: ['a'], learners: ['a'], votersOutgoing: [] } }), /both a voter and a learner/],
    ['a voter twice', JSON.stringify({ change: { changes: [] }, conf: { voters: ['a', 'a'], learners: [], votersOutgoing: [] } }), /twice/],
  ])('decodeConfEntry refuses %s', (_what, data, error) => {
    expect(() => decodeConfEntry(data)).toThrow(error);
  });
});
