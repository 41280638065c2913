import { getHeapStatistics } from 'node:v8';
import { offerToSupervisor } from '../cluster/supervisor-client.ts';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { MEMBER_FILE, startServer, type JoinInfo } from '../server/server.ts';
import { ConfigError, type ClusterConfig } from '../server/config.ts';
import { AdminClient } from '../transport/admin-client.ts';
import { holdsNoData, runningCluster } from './running-cluster-check.ts';

/**
 * `raftkv node`: one server process until SIGINT or SIGTERM, or until it is removed from
 * the cluster (Raft §6: it then logs "removed from the cluster at index N; stopping" and
 * exits 0). `join`: host:port of a member of a running cluster this server is to join
 * (`raftkv node --id <id> --join <host:port>`, after `raftkv member add <id> <addr>`).
 */
export async function runNode(config: ClusterConfig, id: string, opts: { rejoinEmpty?: boolean; join?: string } = {}): Promise<void> {
  const join = opts.join !== undefined ? await joinInfo(config, id, opts.join) : undefined;
  const dataDir = path.join(config.dataDir, id);
  // After the lock and the bind: a second process for a running server is refused by those,
  // with their own message, before this asks the cluster anything.
  const beforeOpen = async () => {
    if (!join && config.servers.some((s) => s.id === id) && !existsSync(path.join(dataDir, MEMBER_FILE)) && holdsNoData(dataDir)) {
      const running = await runningCluster(config, id);
      if (running) {
        const { from, list } = running;
        throw new ConfigError(
          `${id} has no data in ${dataDir}, but the running cluster's leader ${from} has it acknowledging entries up to ${list.members.find((m) => m.id === id)?.matchIndex} (term ${list.term}, members ${list.members.map((m) => m.id).join(', ')}): its data was lost. ` +
            'Starting it as a founding member with an empty log could let a stale leader win or let it vote twice in a term, so it is refused. ' +
            `Replace it: \`raftkv member remove ${id}\`, then add a server under a new id (\`raftkv member add <id> <host:port>\`, \`raftkv node --id <id> --join ${config.servers.find((s) => s.id === from)!.addr}\`).`,
        );
      }
    }
  };
  const server = await startServer(config, id, { rejoinEmpty: opts.rejoinEmpty, beforeOpen, ...(join ? { join } : {}) });
  console.log(`${id} listening on ${server.addr} (data: ${server.dataDir}, pid ${process.pid})${join ? `; joining the cluster of ${join.known.map((m) => m.id).join(', ')}` : ''}`);
  void server.removed.then(() => process.exit(0));
  const heapMb = Math.round(getHeapStatistics().heap_size_limit / 1024 / 1024);
  // The heap limit is fixed when node starts: a server started by hand gets V8's default,
  // under which memory can grow well past what is live before the collector steps in.
  if (heapMb > config.memory.heapLimitMb * 1.5) {
    console.log(`${id}: heap limit ${heapMb} MiB; the config's memory.heapLimitMb is ${config.memory.heapLimitMb} (start with node --max-old-space-size=${config.memory.heapLimitMb}, as raftkv cluster up does)`);
  }
  const shutdown = (signal: string) => {
    console.log(`${id}: ${signal}, stopping`);
    server.stop().then(
      () => process.exit(0),
      (err: Error) => {
        console.error(`${id}: error while stopping: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  if (process.env.RAFTKV_PARENT_PID) return watchParent(Number(process.env.RAFTKV_PARENT_PID), shutdown);
  // Started by hand on the config of a running `cluster up`: it supervises this server too
  // (stops it with the rest, reports its death), and this server stops when it is gone.
  const supervisor = await offerToSupervisor(config, id);
  if (supervisor && 'pid' in supervisor) {
    console.log(`${id}: supervised by the cluster up of pid ${supervisor.pid} (\`npx raftkv cluster down\` stops it with the rest)`);
    watchParent(supervisor.pid, shutdown);
  } else if (supervisor) {
    console.error(`${id}: not supervised: ${supervisor.error}`);
  }
}

/**
 * A server started by a harness (RAFTKV_PARENT_PID set) or adopted by a supervisor stops
 * when that process dies, even by SIGKILL, so nothing is left behind.
 */
function watchParent(parent: number, shutdown: (why: string) => void): void {
  if (!parent) return;
  const timer = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      clearInterval(timer);
      shutdown(`parent ${parent} is gone`);
    }
  }, 500);
  timer.unref();
}

/**
 * What a server joining a running cluster learns from a member (`member`, host:port) with
 * MemberList: its own address, which `raftkv member add` recorded in the configuration
 * (etcd's member add, then start with --initial-cluster-state existing), and the members
 * to contact. It then starts with an empty log and the founding voters of the config
 * file as its first configuration, and receives the log (or a snapshot) from the leader.
 * Throws ConfigError when `id` is not a member there (it must be added first) or when
 * the member cannot be reached. A server that already joined (its member.json is in its
 * data directory) needs no answer: what it recorded is used, refreshed when the member answers.
 */
async function joinInfo(config: ClusterConfig, id: string, member: string): Promise<JoinInfo> {
  const admin = new AdminClient(member);
  const recorded = existsSync(path.join(config.dataDir, id, MEMBER_FILE));
  try {
    const list = await admin.memberList(3000).catch((err: Error) => {
      throw new ConfigError(`--join ${member}: no answer (${err.message}); give the host:port of a running member`);
    });
    const self = list.members.find((m) => m.id === id);
    if (!self || self.addr === '') {
      if (recorded) throw new ConfigError(`--join ${member}: ${id} is no longer a member there (removed?); it cannot rejoin under the same id`);
      throw new ConfigError(
        `${id} is not a member of the cluster of ${member} (members: ${list.members.map((m) => m.id).join(', ')}). ` +
          `Add it first: raftkv member add ${id} <host:port it will listen on>`,
      );
    }
    return { addr: self.addr, known: list.members.filter((m) => m.addr !== '').map((m) => ({ id: m.id, addr: m.addr })) };
  } finally {
    admin.close();
  }
}
