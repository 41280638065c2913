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
 * could vote twice in a term (Raft assumes a server's state survives; §5.2, §6). Each of
 * the config's other servers is asked for the membership at once (deadline
 * `deadlineMs`); the leader's answer is returned when it says so, else null: nothing is
 * running yet (a new cluster coming up together), or this founder simply never ran
 * before (started late, as the demo's scenario 7 does). Best effort: a leader elected
 * since the server was lost does not know what it acknowledged.
 */
export async function runningCluster(config: ClusterConfig, id: string, deadlineMs = 1500): Promise<{ from: string; list: WireMemberList } | null> {
  const others = config.servers.filter((s) => s.id !== id);
  const asks = others.map(async (s) => {
    const admin = new AdminClient(s.addr);
    try {
      const list = await admin.memberList(deadlineMs);
      const acked = list.leaderId === s.id && list.members.some((m) => m.id === id && m.matchIndex > 0);
      return acked ? { from: s.id, list } : null;
    } catch {
      return null;
    } finally {
      admin.close();
    }
  });
  return new Promise((resolve) => {
    let left = asks.length;
    if (left === 0) resolve(null);
    for (const ask of asks) void ask.then((found) => (found ? resolve(found) : --left === 0 && resolve(null)));
  });
}
