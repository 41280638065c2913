import type { ConfState } from './types.ts';

export type { ConfState } from './types.ts';

/**
 * One membership change (etcd's ConfChangeSingle, with etcd's names):
 *
 * - `addNode`: make `nodeId` a voter; a learner is promoted (Raft thesis §4.2.1: add new
 *   servers as learners first, promote them once caught up);
 * - `addLearnerNode`: add `nodeId` as a learner (a non-voting member, thesis §4.2.1);
 * - `removeNode`: remove `nodeId`, voter or learner.
 *
 * Demoting a voter to a learner is not supported (it would need etcd's LearnersNext):
 * remove it, then add it back as a learner.
 */
export interface ConfChangeSingle {
  type: 'addNode' | 'addLearnerNode' | 'removeNode';
  /** A server id, as in RaftConfig.id. */
  nodeId: string;
}

/**
 * A membership change to propose (etcd's ConfChangeV2), applied as one step: with
 * Raft.proposeConfChange(). Empty `changes` is the leave-joint change (C_old,new -> C_new);
 * only the core proposes that (etcd's auto-leave).
 */
export interface ConfChange {
  changes: ConfChangeSingle[];
  /** Opaque to the core and carried in the entry, e.g. the proposer's request id (etcd's Context). */
  context?: string;
}

/**
 * What a log entry of kind 'config' holds in `data` (JSON, encodeConfEntry): the change,
 * and the configuration in force from that entry on. Carrying the whole configuration
 * makes every config entry self-describing: a node that joined with an empty log (and so
 * never saw the cluster's first configuration, which no entry records) knows the
 * membership from the first config entry it receives, and a restarted node from the last
 * one in its log.
 */
export interface ConfEntry {
  change: ConfChange;
  conf: ConfState;
}

/** A ConfChange that does not apply to the configuration in force (Raft.proposeConfChange's refusals). */
export class ConfChangeError extends Error {}

/** The empty configuration: a node joining an existing cluster starts with it and waits for the leader. */
export const EMPTY_CONF: ConfState = freezeConf({ voters: [], learners: [], votersOutgoing: [] });

/**
 * A configuration of `voters` only (a brand new cluster's, RaftConfig.peers). Throws on a
 * duplicate id.
 */
export function confOfVoters(voters: readonly string[]): ConfState {
  return checkedConf({ voters: [...voters], learners: [], votersOutgoing: [] });
}

/** Whether `cs` is a joint configuration C_old,new (Raft paper §6): votersOutgoing holds C_old. */
export function isJoint(cs: ConfState): boolean {
  return cs.votersOutgoing.length > 0;
}

/** Whether `id` votes in `cs` (in C_new or, while joint, in C_old). */
export function isVoter(cs: ConfState, id: string): boolean {
  return cs.voters.includes(id) || cs.votersOutgoing.includes(id);
}

/** Every member of `cs`: voters, outgoing voters, learners (each once, in that order). */
export function members(cs: ConfState): string[] {
  return [...new Set([...cs.voters, ...cs.votersOutgoing, ...cs.learners])];
}

/** Same members in the same roles (order does not matter). */
export function confStatesEqual(a: ConfState, b: ConfState): boolean {
  const same = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v) => y.includes(v));
  return same(a.voters, b.voters) && same(a.learners, b.learners) && same(a.votersOutgoing, b.votersOutgoing);
}

/**
 * The configuration `change` produces from `cs` (etcd's confchange.Changer), frozen.
 *
 * - Empty `changes` leaves a joint configuration: C_new = cs.voters, votersOutgoing emptied.
 * - Changes that touch the voters (add, promote or remove a voter) enter the joint
 *   configuration C_old,new: `voters` becomes C_new, `votersOutgoing` C_old (cs.voters).
 *   Every voter change goes through joint consensus, a single one included, so that one
 *   rule (paper §6) covers all of them; the leader leaves it on its own once it commits.
 * - Changes that touch only learners apply at once (no majority changes).
 *
 * Throws ConfChangeError, leaving `cs` as it was, when the change does not apply: a
 * change while joint (other than leaving), leaving when not joint, an empty node id, one
 * node twice in a change, adding a voter that is one, adding as learner a voter (no
 * demotion) or a learner, removing a non-member, or a change that would leave no voter.
 */
export function applyConfChange(cs: ConfState, change: ConfChange): ConfState {
  if (change.changes.length === 0) {
    if (!isJoint(cs)) throw new ConfChangeError('not in a joint configuration: nothing to leave');
    return freezeConf({ voters: [...cs.voters], learners: [...cs.learners], votersOutgoing: [] });
  }
  if (isJoint(cs)) throw new ConfChangeError(`a joint configuration is in force (outgoing voters ${cs.votersOutgoing.join(', ')}): it must be left first`);
  const voters = [...cs.voters];
  let learners = [...cs.learners];
  const seen = new Set<string>();
  for (const c of change.changes) {
    if (typeof c.nodeId !== 'string' || c.nodeId === '') throw new ConfChangeError('a change needs a node id');
    if (seen.has(c.nodeId)) throw new ConfChangeError(`${c.nodeId} appears twice in one change`);
    seen.add(c.nodeId);
    switch (c.type) {
      case 'addNode':
        if (voters.includes(c.nodeId)) throw new ConfChangeError(`${c.nodeId} is already a voter`);
        learners = learners.filter((l) => l !== c.nodeId);
        voters.push(c.nodeId);
        break;
      case 'addLearnerNode':
        if (voters.includes(c.nodeId)) throw new ConfChangeError(`${c.nodeId} is a voter: demoting is not supported (remove it, then add it as a learner)`);
        if (learners.includes(c.nodeId)) throw new ConfChangeError(`${c.nodeId} is already a learner`);
        learners.push(c.nodeId);
        break;
      case 'removeNode': {
        const at = voters.indexOf(c.nodeId);
        if (at >= 0) voters.splice(at, 1);
        else if (learners.includes(c.nodeId)) learners = learners.filter((l) => l !== c.nodeId);
        else throw new ConfChangeError(`${c.nodeId} is not a member`);
        break;
      }
      default:
        throw new ConfChangeError(`unknown change type ${JSON.stringify((c as { type: unknown }).type)}`);
    }
  }
  if (voters.length === 0) throw new ConfChangeError('the change would leave no voter');
  const votersChanged = voters.length !== cs.voters.length || voters.some((v) => !cs.voters.includes(v));
  return freezeConf({ voters, learners, votersOutgoing: votersChanged ? [...cs.voters] : [] });
}

/** The leave-joint change (empty), which the leader proposes once C_old,new commits. */
export const LEAVE_JOINT: ConfChange = Object.freeze({ changes: [] });

/** JSON of a ConfChange, for a server that carries one (e.g. forwards it to the leader). */
export function encodeConfChange(change: ConfChange): string {
  return JSON.stringify(change);
}

/** Parses encodeConfChange's output; throws Error on anything that is not a ConfChange. */
export function decodeConfChange(text: string): ConfChange {
  return checkChange(parse(text, 'ConfChange'));
}

/** A 'config' entry's data (JSON). */
export function encodeConfEntry(e: ConfEntry): string {
  return JSON.stringify({ change: e.change, conf: e.conf });
}

/**
 * Parses a 'config' entry's data; throws Error when it is not a ConfEntry (malformed
 * JSON, a missing field, a node in two roles). The codec and the storage call it to
 * refuse such an entry before it reaches the core.
 */
export function decodeConfEntry(data: string): ConfEntry {
  const v = parse(data, 'config entry');
  if (!isObject(v)) throw new Error('config entry: not an object');
  return { change: checkChange(v.change), conf: checkedConf(v.conf) };
}

function parse(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${what}: malformed JSON (${(err as Error).message})`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkChange(v: unknown): ConfChange {
  if (!isObject(v) || !Array.isArray(v.changes)) throw new Error('ConfChange: needs a changes array');
  const changes = v.changes.map((c: unknown): ConfChangeSingle => {
    if (!isObject(c) || typeof c.nodeId !== 'string' || c.nodeId === '') throw new Error('ConfChange: a change needs a node id');
    if (c.type !== 'addNode' && c.type !== 'addLearnerNode' && c.type !== 'removeNode') throw new Error(`ConfChange: unknown change type ${JSON.stringify(c.type)}`);
    return { type: c.type, nodeId: c.nodeId };
  });
  if (v.context !== undefined && typeof v.context !== 'string') throw new Error('ConfChange: context must be a string');
  return { changes, ...(typeof v.context === 'string' ? { context: v.context } : {}) };
}

/** Checks a decoded or given ConfState (string lists, no duplicate, no node both voter and learner) and freezes a copy. */
function checkedConf(v: unknown): ConfState {
  if (!isObject(v)) throw new Error('ConfState: not an object');
  const list = (name: string): string[] => {
    const x = v[name] ?? [];
    if (!Array.isArray(x) || !x.every((s) => typeof s === 'string' && s !== '')) throw new Error(`ConfState: ${name} must be a list of ids`);
    if (new Set(x).size !== x.length) throw new Error(`ConfState: ${name} lists a node twice`);
    return [...(x as string[])];
  };
  const cs = { voters: list('voters'), learners: list('learners'), votersOutgoing: list('votersOutgoing') };
  const both = cs.learners.find((l) => cs.voters.includes(l) || cs.votersOutgoing.includes(l));
  if (both !== undefined) throw new Error(`ConfState: ${both} is both a voter and a learner`);
  return freezeConf(cs);
}

/**
 * Checks a ConfState given by the caller (RaftConfig.conf, SnapshotMeta.conf) and returns
 * a frozen copy; throws Error as decodeConfEntry does.
 */
export function normalizeConf(cs: ConfState): ConfState {
  return checkedConf(cs);
}

function freezeConf(cs: { voters: string[]; learners: string[]; votersOutgoing: string[] }): ConfState {
  return Object.freeze({ voters: Object.freeze(cs.voters), learners: Object.freeze(cs.learners), votersOutgoing: Object.freeze(cs.votersOutgoing) });
}
