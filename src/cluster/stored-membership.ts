import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type ServerEntry } from '../server/config.ts';

/**
 * Why starting `servers` on `dataDir` would be unsafe, or null when it is safe. The data
 * directory remembers a cluster: its cluster.json and a log per server. Starting another
 * set of servers on those logs (say `--nodes 2` where 5 ran) makes a majority of the new
 * set something that never was a majority of the old one, so a write the old cluster
 * acknowledged can vanish. Membership changes belong to the cluster's own protocol; here
 * the only safe answer is to refuse and say how to proceed.
 */
export function membershipProblem(dataDir: string, servers: ServerEntry[]): string | null {
  const wanted = new Set(servers.map((s) => s.id));
  const remembered = rememberedServers(dataDir);
  if (remembered.size === 0) return null;
  const same = remembered.size === wanted.size && [...remembered].every((id) => wanted.has(id));
  if (same) return null;
  const list = (ids: Iterable<string>) => [...ids].sort().join(', ');
  return (
    `${dataDir} holds the data of a cluster of ${remembered.size} servers (${list(remembered)}); starting ` +
    `${wanted.size} (${list(wanted)}) on it could lose writes it acknowledged. Start the same servers ` +
    `(--nodes ${remembered.size}), use another --data directory, or remove ${dataDir} to start empty`
  );
}

/** The server ids of the cluster.json in `dataDir`, plus every subdirectory holding a log. */
function rememberedServers(dataDir: string): Set<string> {
  const ids = new Set<string>();
  const file = path.join(dataDir, 'cluster.json');
  if (existsSync(file)) {
    try {
      for (const s of loadConfig(file).servers) if (hasData(path.join(dataDir, s.id))) ids.add(s.id);
    } catch {
      // An unreadable cluster.json is overwritten by cluster up; the logs below still count.
    }
  }
  if (!existsSync(dataDir)) return ids;
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (entry.isDirectory() && hasData(path.join(dataDir, entry.name))) ids.add(entry.name);
  }
  return ids;
}

/**
 * Whether `serverDir` holds a server's log that cluster up must account for. A server that
 * joined with `raftkv node --join` (member.json) does not: the cluster's own log records
 * its addition (Raft §6), so the founding servers are still the ones to start (it is
 * started by hand, without --join). A founder removed since still counts: it is in the
 * config, and stops again at once when started (it recorded its removal).
 */
function hasData(serverDir: string): boolean {
  if (existsSync(path.join(serverDir, 'member.json'))) return false;
  return existsSync(path.join(serverDir, 'log.db')) || existsSync(path.join(serverDir, 'state.db'));
}

/**
 * The servers that joined the cluster of `dataDir` after its cluster.json was written
 * (`raftkv node --join`, Raft §6), as their data directories record them: each
 * subdirectory with a member.json (its `addr`), not named by `servers` and not removed
 * since (removed.json). For `raftkv status`, so it lists them when no running member can
 * name them (all founders down). Unreadable member.json files are left out.
 */
export function joinedServers(dataDir: string, servers: ServerEntry[]): ServerEntry[] {
  if (!existsSync(dataDir)) return [];
  const out: ServerEntry[] = [];
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    const dir = path.join(dataDir, entry.name);
    if (!entry.isDirectory() || servers.some((s) => s.id === entry.name) || existsSync(path.join(dir, 'removed.json'))) continue;
    try {
      const addr = (JSON.parse(readFileSync(path.join(dir, 'member.json'), 'utf8')) as { addr?: unknown }).addr;
      if (typeof addr === 'string' && addr !== '') out.push({ id: entry.name, addr });
    } catch {
      // No member.json (a founder's leftover, logs/) or a damaged one: not a joined member to list.
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
