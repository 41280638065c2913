import type { ClusterConfig, ServerEntry } from '../server/config.ts';
import { AdminClient } from '../transport/admin-client.ts';

/**
 * The address of member `id` as the running cluster knows it (Admin.MemberList of the
 * first of the config's servers to answer, within `deadlineMs`): for a server that joined
 * after the config file was written (Raft §6). Null when no server answers or none lists it.
 */
export async function findMember(config: ClusterConfig, id: string, deadlineMs = 1500): Promise<ServerEntry | null> {
  const asks = config.servers.map(async (s) => {
    const admin = new AdminClient(s.addr);
    try {
      return (await admin.memberList(deadlineMs)).members.find((m) => m.id === id) ?? null;
    } catch {
      return null;
    } finally {
      admin.close();
    }
  });
  for (const member of await Promise.all(asks)) if (member) return { id: member.id, addr: member.addr };
  return null;
}
