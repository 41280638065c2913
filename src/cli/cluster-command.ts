import path from 'node:path';
import { ProcessCluster } from '../cluster/process-cluster.ts';
import { defaultConfig, type ClusterConfig } from '../server/config.ts';
import { CLUSTER_FILE, writeConfig } from './cluster-file.ts';

/** `raftkv cluster up`: N server processes until Ctrl-C, which stops them all. */
export async function clusterUp(opts: { nodes: number; basePort: number; dataDir: string; config?: ClusterConfig }): Promise<void> {
  const config = opts.config ?? defaultConfig(opts.nodes, opts.basePort, opts.dataDir);
  const file = writeConfig(opts.config ? path.join(config.dataDir, 'cluster.json') : path.join(opts.dataDir, 'cluster.json'), config);
  const cluster = new ProcessCluster(config, file);
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${why}: stopping ${config.servers.length} servers...`);
    await cluster.stopAll();
    console.log('all servers stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    console.log(`starting ${config.servers.length} servers (config: ${file})`);
    await Promise.all(config.servers.map((s) => cluster.start(s.id)));
    for (const s of config.servers) {
      console.log(`  ${s.id.padEnd(10)} ${s.addr.padEnd(21)} pid ${String(cluster.pid(s.id)).padEnd(8)} data ${path.join(config.dataDir, s.id)}`);
    }
    const leader = await cluster.waitForLeader();
    console.log(`leader: ${leader}. Logs: ${path.join(config.dataDir, 'logs')}. Try: npm run raftkv -- put k1 v1${file === path.resolve(CLUSTER_FILE) ? '' : ` --config ${file}`}`);
    console.log('Ctrl-C stops every server.');
  } catch (err) {
    console.error(`cluster failed to start: ${(err as Error).message}`);
    await cluster.stopAll();
    process.exit(1);
  }
}
