import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ClusterConfig } from '../server/config.ts';
import { AdminClient } from '../transport/admin-client.ts';
import type { WireMemberList } from '../transport/wire.ts';

/** A data directory that holds nothing a server wrote: no log, hard state or snapshot (a fresh or wiped one). */
export function holdsNoData(dir: string): boolean {
  const has = (name: string) => {
    const file = path.join(dir, name);
    return existsSync(file) && statSync(file).size > 0;
  };
  return !has('log.db') && !has('state.db') && !has('snapshot.bin');
}

/**
 * Before a founding server starts on an empty data directory without --join: does the
 * running cluster's leader remember it acknowledging entries (its matchIndex there is
 * above 0)? Then its data was lost, and it must not start as a founder with an empty log:
 * it would grant its vote to a candidate missing entries committed with its help, and
 * could vote twice in a term (Raft assumes a server's state survives; §5.2, §6). The
 * config's other servers are asked for the membership at once (deadline `deadlineMs`),
 * then the leader they name if it joined later; the leader's answer is returned when it
 * says so, else null: nothing is
 * running yet (a new cluster coming up together), or this founder simply never ran
 * before (started late, as the demo's scenario 7 does). Best effort: a leader elected
 * since the server was lost does not know what it acknowledged, and with every other
 * founding server gone there is nobody to ask.
 */
export async function runningCluster(config: ClusterConfig, id: string, deadlineMs = 1500): Promise<{ from: string; list: WireMemberList } | null> {
  const ask = async (addr: string): Promise<WireMemberList | null> => {
    const admin = new AdminClient(addr);
    try {
      return await admin.memberList(deadlineMs);
    } catch {
      return null;
    } finally {
      admin.close();
    }
  };
  const sawIt = (from: string, list: WireMemberList) => list.leaderId === from && list.members.some((m) => m.id === id && m.matchIndex > 0);
  // First the config's other servers, then the leader they name, which may have joined later.
  const asked = config.servers.filter((s) => s.id !== id);
  const answers = await Promise.all(asked.map(async (s) => ({ from: s.id, list: await ask(s.addr) })));
  for (const { from, list } of answers) if (list && sawIt(from, list)) return { from, list };
  const leaders = new Map<string, string>();
  for (const { list } of answers) {
    const leader = list?.members.find((m) => m.id === list.leaderId);
    if (leader && leader.id !== id && !asked.some((s) => s.id === leader.id)) leaders.set(leader.id, leader.addr);
  }
  for (const [from, addr] of leaders) {
    const list = await ask(addr);
    if (list && sawIt(from, list)) return { from, list };
  }
  return null;
}
