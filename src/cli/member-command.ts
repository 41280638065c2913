import type { ClusterConfig } from '../server/config.ts';
import { AdminClient } from '../transport/admin-client.ts';
import type { WireAdminResult, WireMemberList } from '../transport/wire.ts';
import { EXIT } from './exit-codes.ts';

/** A membership command of the CLI (Raft §6) or a leadership transfer (thesis §3.10). */
export type MemberAction =
  | { kind: 'list' }
  | { kind: 'add'; id: string; addr: string; learner: boolean }
  | { kind: 'promote'; id: string }
  | { kind: 'remove'; id: string }
  | { kind: 'transfer'; target: string };

/**
 * `raftkv member list|add|promote|remove` and `raftkv leader transfer`: asks the config's
 * servers (in order) for MemberList until one answers, then sends the change to the
 * leader it names, following one NOT_LEADER answer (a leader asked to remove itself hands
 * over first and names its successor). Prints the outcome and the configuration after it.
 *
 * Returns an exit code (exit-codes.ts): 0 done; 1 refused (INVALID, BUSY: nothing
 * changed); 3 TIMEOUT, or the leader's connection dropped after the request was sent (the
 * change may still complete: `member list` tells); 4 no server answered, or no leader.
 */
export async function runMemberCommand(config: ClusterConfig, action: MemberAction, timeoutMs: number): Promise<number> {
  const clients = new Map<string, AdminClient>();
  const admin = (addr: string) => {
    let c = clients.get(addr);
    if (!c) clients.set(addr, (c = new AdminClient(addr)));
    return c;
  };
  try {
    const found = await firstMemberList(config, admin);
    if (!found) {
      console.error(`raftkv: no server answered (asked ${config.servers.map((s) => `${s.id}@${s.addr}`).join(', ')})`);
      return EXIT.UNAVAILABLE;
    }
    let list = found.list;
    if (action.kind === 'list') {
      // The leader knows how far each member's log matches: ask it when it is another one.
      const leaderAddr = list.members.find((m) => m.id === list.leaderId)?.addr;
      if (leaderAddr && leaderAddr !== found.addr) list = await admin(leaderAddr).memberList(2000).catch(() => list);
      printMembers(list);
      return EXIT.OK;
    }
    let addrs = new Map(list.members.map((m) => [m.id, m.addr]));
    let leader = list.leaderId;
    for (let attempt = 0; ; attempt++) {
      const addr = leader ? addrs.get(leader) : undefined;
      if (!leader || !addr) {
        console.error(`raftkv: no leader known${leader ? ` (${leader} has no known address)` : ''}; retry shortly`);
        return EXIT.UNAVAILABLE;
      }
      let res: WireAdminResult;
      try {
        res = await call(admin(addr), action, timeoutMs);
      } catch (err) {
        // The request may have reached the leader (a dropped connection, a deadline): the
        // change may be in its log. Only a server never reached has changed nothing.
        const unreached = /ECONNREFUSED|No connection established|failed to connect/i.test((err as Error).message);
        console.error(`raftkv: ${leader} at ${addr} did not answer: ${(err as Error).message}`);
        if (unreached) return EXIT.UNAVAILABLE;
        console.error(`raftkv: the ${action.kind} may or may not have taken effect; \`raftkv member list\` tells`);
        return EXIT.UNKNOWN;
      }
      if (res.members) addrs = new Map([...addrs, ...res.members.members.map((m): [string, string] => [m.id, m.addr])]);
      if (res.ok) {
        console.log(success(action, res));
        if (res.members) printMembers(res.members);
        return EXIT.OK;
      }
      if (res.code === 'NOT_LEADER' && attempt === 0 && res.leaderId && res.leaderId !== leader) {
        if (action.kind === 'remove' && action.id === leader) console.log(`${leader} handed leadership to ${res.leaderId}; asking it to remove ${leader}`);
        leader = res.leaderId;
        continue;
      }
      console.error(`raftkv: ${res.code}: ${res.error}`);
      return res.code === 'TIMEOUT' ? EXIT.UNKNOWN : res.code === 'NOT_LEADER' || res.code === 'NO_LEADER' ? EXIT.UNAVAILABLE : EXIT.FAILED;
    }
  } finally {
    for (const c of clients.values()) c.close();
  }
}

/** The first MemberList a server of the config answers with, and that server's address; null if none answers. */
async function firstMemberList(config: ClusterConfig, admin: (addr: string) => AdminClient): Promise<{ addr: string; list: WireMemberList } | null> {
  let fallback: { addr: string; list: WireMemberList } | null = null;
  for (const s of config.servers) {
    const list = await admin(s.addr)
      .memberList(1000)
      .catch(() => null);
    if (!list) continue;
    // One that knows the leader is worth more (a server just started may not yet).
    if (list.leaderId) return { addr: s.addr, list };
    fallback ??= { addr: s.addr, list };
  }
  return fallback;
}

function call(admin: AdminClient, action: Exclude<MemberAction, { kind: 'list' }>, timeoutMs: number): Promise<WireAdminResult> {
  switch (action.kind) {
    case 'add':
      return admin.memberAdd(action.id, action.addr, action.learner, timeoutMs);
    case 'promote':
      return admin.memberPromote(action.id, timeoutMs);
    case 'remove':
      return admin.memberRemove(action.id, timeoutMs);
    case 'transfer':
      return admin.transferLeader(action.target, timeoutMs);
  }
}

function success(action: Exclude<MemberAction, { kind: 'list' }>, res: WireAdminResult): string {
  switch (action.kind) {
    case 'add':
      return action.learner ? `added ${action.id} (${action.addr}) as a learner` : `added ${action.id} (${action.addr}): caught up and promoted to voter`;
    case 'promote':
      return `promoted ${action.id} to voter`;
    case 'remove':
      return `removed ${action.id}`;
    case 'transfer':
      return `leader: ${res.members?.leaderId || res.leaderId}`;
  }
}

/** One line per member: id, address, role (leader marked), and on the leader how far its log matches. */
export function printMembers(list: WireMemberList): void {
  const rows = list.members.map((m) => [m.id, m.addr || '?', `${m.learner ? 'learner' : m.outgoing ? 'leaving' : 'voter'}${m.id === list.leaderId ? ' (leader)' : ''}`, m.matchIndex > 0 ? String(m.matchIndex) : '-']);
  const header = ['ID', 'ADDRESS', 'ROLE', 'MATCH'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  console.log(`term ${list.term}, configuration at index ${list.confIndex}${list.joint ? ' (joint: two majorities needed)' : ''}, last index ${list.lastIndex}`);
}
