import { startServer } from '../server/server.ts';
import type { ClusterConfig } from '../server/config.ts';

/** `raftkv node`: one server process until SIGINT or SIGTERM. */
export async function runNode(config: ClusterConfig, id: string, opts: { rejoinEmpty?: boolean } = {}): Promise<void> {
  const server = await startServer(config, id, { rejoinEmpty: opts.rejoinEmpty });
  console.log(`${id} listening on ${server.addr} (data: ${server.dataDir}, pid ${process.pid})`);
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
  watchParent(shutdown);
}

/**
 * A server started by a harness (RAFTKV_PARENT_PID set) stops when that harness dies,
 * even by SIGKILL, so no test or scenario leaves servers behind.
 */
function watchParent(shutdown: (why: string) => void): void {
  const parent = Number(process.env.RAFTKV_PARENT_PID);
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
