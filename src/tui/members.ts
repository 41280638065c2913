import type { WireMember } from '../transport/wire.ts';
import type { AdminAnswer, MemberAnswer } from './deps.ts';
import { table } from './cluster-text.ts';
import type { MemberInfo, ServerRow } from './state.ts';

/**
 * The membership as the screen shows it, as pure functions: server rows that follow the
 * configuration, the `members` table, and what a change came to.
 */

/**
 * The rows after a membership answer: a member gets its place (and, if new, a row with the
 * address the answer gives); a configured server the configuration no longer lists stays,
 * marked removed (its process may still run, and kill or restart still apply to it); a
 * server learned from an earlier answer and since removed goes. An empty list says nothing
 * (a server that cannot tell) and changes nothing.
 */
export function mergeMembers(rows: readonly ServerRow[], answer: MemberAnswer, configured: ReadonlySet<string>): ServerRow[] {
  if (answer.members.length === 0) return [...rows];
  const byId = new Map(answer.members.map((m) => [m.id, m]));
  const kept = rows.flatMap((r): ServerRow[] => {
    const m = byId.get(r.id);
    if (m) return [{ ...r, addr: m.addr || r.addr, member: memberInfo(m, answer) }];
    return configured.has(r.id) ? [{ ...r, member: { kind: 'removed', outgoing: false, matchIndex: null, progress: null } }] : [];
  });
  const known = new Set(rows.map((r) => r.id));
  const added = answer.members
    .filter((m) => !known.has(m.id))
    .map((m): ServerRow => ({ id: m.id, addr: m.addr, liveness: 'no answer', status: null, fresh: false, blocked: [], member: memberInfo(m, answer) }));
  return [...kept, ...added];
}

/** Only the leader's answer carries match indexes (the others say 0), so only it gives progress. */
function memberInfo(m: WireMember, answer: MemberAnswer): MemberInfo {
  const fromLeader = answer.leaderId !== '' && answer.from === answer.leaderId;
  return {
    kind: m.learner ? 'learner' : 'voter',
    outgoing: m.outgoing,
    matchIndex: fromLeader ? m.matchIndex : null,
    progress: fromLeader && m.learner ? percent(m.matchIndex, answer.lastIndex) : null,
  };
}

/** match of last as a whole percentage, rounded down so that 100% means caught up. */
function percent(match: number, last: number): number | null {
  if (last <= 0) return null;
  return Math.max(0, Math.min(100, Math.floor((match * 100) / last)));
}

/** One line about the configuration: its index, voters and learners, leader, and joint or not. */
export function configLine(a: MemberAnswer): string {
  const voters = a.members.filter((m) => !m.learner).length;
  const learners = a.members.length - voters;
  const joint = a.joint ? '; joint (C_old,new): a decision needs a majority of each' : '';
  return `configuration at index ${a.confIndex}: ${voters} voter${voters === 1 ? '' : 's'}, ${learners} learner${learners === 1 ? '' : 's'}; leader ${a.leaderId || 'none'} (term ${a.term})${joint}`;
}

/** The `members` table: id, addr, voter or learner, match (the leader's view). */
export function membersText(a: MemberAnswer, rows: readonly ServerRow[]): string {
  const fromLeader = a.leaderId !== '' && a.from === a.leaderId;
  const head = ['id', 'addr', 'member', 'match'];
  const body = a.members.map((m) => {
    const kind = m.learner ? 'learner' : a.joint && m.outgoing ? 'voter (C_old)' : 'voter';
    let match = '-';
    if (fromLeader) {
      const p = m.learner ? percent(m.matchIndex, a.lastIndex) : null;
      match = p === null ? String(m.matchIndex) : `${m.matchIndex}/${a.lastIndex} (${p}%)`;
    }
    return [m.id, m.addr, kind, match];
  });
  const lines = [configLine(a), table([head, ...body])];
  if (!fromLeader) lines.push(`(match: only the leader knows; this answer is from ${a.from})`);
  const removed = rows.filter((r) => r.member?.kind === 'removed').map((r) => r.id);
  if (removed.length > 0) lines.push(`no longer members: ${removed.join(', ')}`);
  return lines.join('\n');
}

/** What a membership change asked for, for its result text. */
export type Change =
  | { type: 'add'; id: string; addr: string; learner: boolean }
  | { type: 'promote'; id: string }
  | { type: 'remove'; id: string }
  | { type: 'transfer'; target: string };

/** What a default message says per refusal code, when the server gave none. */
const CODE_TEXT: Record<string, string> = {
  NO_LEADER: 'there is no leader to make the change',
  INVALID: 'the server refused it as invalid',
  BUSY: 'another membership change or a transfer is under way',
};

/**
 * The result line of a change: what it did, or why not. `leaderBefore` is who led when it
 * was sent (a removed or transferred leader is worth a word).
 */
export function changeText(change: Change, answer: AdminAnswer, leaderBefore: string | null): { ok: boolean; message: string } {
  const r = answer.result;
  if (r.ok) return { ok: true, message: doneText(change, answer, leaderBefore) };
  const [first, second] = answer.asked;
  switch (r.code) {
    case 'NOT_LEADER':
      if (second !== undefined) return refused(`neither ${first} nor ${second} is the leader (NOT_LEADER): leadership is moving; try again in a moment`);
      if (r.leaderId) return refused(`${first} is not the leader and names ${r.leaderId}, whose address this UI does not know (NOT_LEADER)`);
      return refused(`${first} is not the leader and knows of none (NOT_LEADER); try again once there is one`);
    case 'TIMEOUT':
      return { ok: false, message: `not confirmed: ${r.error || 'it did not commit in time'} (TIMEOUT); it may still take effect: members shows whether it did` };
    default:
      return refused(`${r.error || CODE_TEXT[r.code] || 'no reason given'}${r.code ? ` (${r.code})` : ''}`);
  }
}

function refused(why: string): { ok: false; message: string } {
  return { ok: false, message: `refused: ${why}` };
}

function doneText(change: Change, answer: AdminAnswer, leaderBefore: string | null): string {
  switch (change.type) {
    case 'add':
      return change.learner
        ? `added ${change.id} (${change.addr}) as a learner; it stays one until promote ${change.id}`
        : `added ${change.id} (${change.addr}) as a learner; promoted once caught up`;
    case 'promote':
      return `promoted ${change.id}: it is a voter now`;
    case 'remove':
      return `removed ${change.id}${change.id === leaderBefore ? '; it was the leader: it steps down and the others elect a new one' : ''}`;
    case 'transfer': {
      const to = change.target || answer.result.members?.leaderId || answer.result.leaderId;
      return `leadership handed ${to ? `to ${to}` : 'over'}${leaderBefore && leaderBefore !== to ? ` (from ${leaderBefore})` : ''}`;
    }
  }
}
