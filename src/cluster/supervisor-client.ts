import { readdirSync, type Dirent } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { ClusterConfig } from '../server/config.ts';
import { dirHolder, isAlive, processStart, type DirOwner } from '../server/data-dir-lock.ts';
import { readSupervisorFile, removeSupervisorFile, show, type ManagedServer, type SupervisorRecord } from './supervisor-file.ts';

/** The supervisor (`cluster up`) of a data directory, if one is running. */
export interface LiveSupervisor {
  pid: number;
  /** Its runtime file; null while it is still starting (before its control endpoint is up). */
  record: SupervisorRecord | null;
}

export function findSupervisor(dataDir: string): LiveSupervisor | null {
  const holder = dirHolder(dataDir);
  const record = readSupervisorFile(dataDir);
  if (holder) return { pid: holder.pid, record: record && record.pid === holder.pid ? record : null };
  // No lock held: a record left behind names a supervisor that is gone (or was never locked).
  if (record && isAlive({ pid: record.pid, start: record.start })) return { pid: record.pid, record };
  return null;
}

export class ControlRequestError extends Error {
  override name = 'ControlRequestError';
}

/** One request to the supervisor's control endpoint; resolves with its message, rejects with its error. */
export function controlRequest(rec: SupervisorRecord, method: 'GET' | 'POST', route: string, body: object = {}, timeoutMs = 30_000): Promise<{ message?: string; servers?: Record<string, ManagedServer> }> {
  const [host, port] = [rec.control.slice(0, rec.control.lastIndexOf(':')), Number(rec.control.slice(rec.control.lastIndexOf(':') + 1))];
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host, port, method, path: route, timeout: timeoutMs, headers: { authorization: `Bearer ${rec.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('error', reject);
        res.on('end', () => {
          let reply: { ok?: boolean; message?: string; error?: string; servers?: Record<string, ManagedServer> };
          try {
            reply = JSON.parse(text) as typeof reply;
          } catch {
            return reject(new ControlRequestError(`the supervisor sent an unreadable reply (HTTP ${res.statusCode})`));
          }
          if (reply.ok) resolve(reply);
          else reject(new ControlRequestError(reply.error ?? `HTTP ${res.statusCode}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new ControlRequestError(`the supervisor did not answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof ControlRequestError ? err : new ControlRequestError(`cannot reach the supervisor at ${rec.control}: ${err.message}`)));
    req.end(payload);
  });
}

/**
 * `raftkv cluster down`: asks the supervisor to stop its servers and exit. When there is no
 * supervisor, or it does not answer, it stops them itself: the supervisor by pid (SIGTERM,
 * then SIGKILL), then every server that still holds its data directory, or that the
 * runtime file names and is still that process. Returns lines to print.
 */
export async function clusterDown(config: ClusterConfig): Promise<string[]> {
  const dataDir = config.dataDir;
  const out: string[] = [];
  const sup = findSupervisor(dataDir);
  const record = sup?.record ?? readSupervisorFile(dataDir);
  if (sup) {
    let done = false;
    if (sup.record) {
      try {
        // A quick question first: a stuck supervisor (SIGSTOP, a hung loop) is not waited for long.
        await controlRequest(sup.record, 'GET', '/status', {}, 3000);
        const reply = await controlRequest(sup.record, 'POST', '/down', { from: `raftkv cluster down, pid ${process.pid}` }, 20_000);
        out.push(`supervisor (pid ${sup.pid}): ${reply.message}`);
        done = await waitGone({ pid: sup.pid, start: sup.record.start }, 5000);
      } catch (err) {
        out.push(`supervisor (pid ${sup.pid}) did not stop the cluster: ${(err as Error).message}`);
      }
    }
    if (!done) {
      const stopped = await stopPid({ pid: sup.pid, start: sup.record?.start }, 5000);
      out.push(`stopped the supervisor, pid ${sup.pid}, with ${stopped}`);
    }
  } else if (record) {
    out.push(`the supervisor (pid ${record.pid}) is gone; stopping what it left running`);
  }
  // Whatever still runs on the cluster's data directories: servers of a dead or stuck
  // supervisor, servers started by hand, and members that joined later (Raft §6), which
  // cluster.json does not name: every directory under the data root whose lock a live
  // process holds.
  const left = new Map<string, DirOwner>();
  for (const id of serverDirs(dataDir, config)) {
    const holder = dirHolder(path.join(dataDir, id));
    if (holder) left.set(id, holder);
    else {
      const m = record?.servers[id];
      if (m?.pid && (m.state === 'up' || m.state === 'starting') && isAlive({ pid: m.pid, start: m.start })) left.set(id, { pid: m.pid, start: m.start });
    }
  }
  const results = await Promise.all([...left].map(async ([id, owner]) => `${id} (pid ${owner.pid}) with ${await stopPid(owner, 3000)}`));
  if (results.length > 0) out.push(`stopped ${results.join(', ')}`);
  removeSupervisorFile(dataDir);
  if (!sup && !record && left.size === 0) out.push(`no cluster is running in ${show(dataDir)} (nothing to stop)`);
  return out;
}

/** The config's server ids, then every other directory directly under the data root (in name order). */
function serverDirs(dataDir: string, config: ClusterConfig): string[] {
  const ids = config.servers.map((s) => s.id);
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(dataDir, { withFileTypes: true });
  } catch {
    // No data root yet: nothing runs on it.
  }
  const others = entries.filter((e) => e.isDirectory() && !ids.includes(e.name)).map((e) => e.name).sort();
  return [...ids, ...others];
}

/** SIGTERM, then SIGKILL if it is still there after `graceMs`; says which one it took. */
async function stopPid(owner: DirOwner, graceMs: number): Promise<string> {
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(owner.pid, sig);
    } catch {
      // already gone
    }
  };
  send('SIGTERM');
  // A stopped process (SIGSTOP, Ctrl-Z) acts on SIGTERM only once it runs again.
  send('SIGCONT');
  if (await waitGone(owner, graceMs)) return 'SIGTERM';
  send('SIGKILL');
  await waitGone(owner, 3000);
  return 'SIGKILL';
}

async function waitGone(owner: DirOwner, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(owner)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * For `raftkv node`: when a supervisor runs this config's cluster, it adopts this process
 * (it stops it with the rest and reports its death). Returns the supervisor's pid, or null.
 */
export async function offerToSupervisor(config: ClusterConfig, id: string): Promise<{ pid: number } | { error: string } | null> {
  const sup = findSupervisor(config.dataDir);
  if (!sup?.record) return null;
  try {
    await controlRequest(sup.record, 'POST', '/adopt', { id, pid: process.pid, start: processStart(process.pid) }, 5000);
    return { pid: sup.pid };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
