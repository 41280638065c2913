import { getHeapStatistics } from 'node:v8';
import { offerToSupervisor } from '../cluster/supervisor-client.ts';
import { startServer } from '../server/server.ts';
import type { ClusterConfig } from '../server/config.ts';

/** `raftkv node`: one server process until SIGINT or SIGTERM. */
export async function runNode(config: ClusterConfig, id: string, opts: { rejoinEmpty?: boolean } = {}): Promise<void> {
  const server = await startServer(config, id, { rejoinEmpty: opts.rejoinEmpty });
  console.log(`${id} listening on ${server.addr} (data: ${server.dataDir}, pid ${process.pid})`);
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
