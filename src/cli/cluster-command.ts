import path from 'node:path';
import { runName, type Collector } from '../../tracing/collector.ts';
import { CLUSTER_FILE } from '../cluster/cluster-file.ts';
import { ProcessCluster } from '../cluster/process-cluster.ts';
import { defaultConfig, writeConfig, type ClusterConfig } from '../server/config.ts';
import { startTraceServer } from './trace-server-command.ts';

/** `raftkv cluster up`: N server processes until Ctrl-C, which stops them all. */
export async function clusterUp(opts: { nodes: number; basePort: number; dataDir: string; config?: ClusterConfig; trace: boolean }): Promise<void> {
  let collector: Collector | null = null;
  if (opts.trace) collector = await startTraceServer({ dir: 'traces', run: runName('cluster-'), addr: '127.0.0.1:0' });
  const base = opts.config ?? defaultConfig(opts.nodes, opts.basePort, opts.dataDir);
  const config = { ...base, traceServer: collector?.addr ?? base.traceServer };
  const file = writeConfig(opts.config ? path.join(config.dataDir, 'cluster.json') : path.join(opts.dataDir, 'cluster.json'), config);
  const cluster = new ProcessCluster(config, file);
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${why}: stopping ${config.servers.length} servers...`);
    await cluster.stopAll();
    await collector?.stop();
    console.log(`all servers stopped${collector ? `; trace in ${collector.dir}` : ''}`);
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
    if (collector) console.log(`tracing to ${collector.dir} (open shiviz.log at https://bestchai.bitbucket.io/shiviz/)`);
    console.log('Ctrl-C stops every server.');
  } catch (err) {
    console.error(`cluster failed to start: ${(err as Error).message}`);
    await cluster.stopAll();
    await collector?.stop();
    process.exit(1);
  }
}
