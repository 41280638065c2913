/**
 * How long one `raftkv get` / `raftkv put` takes, wall clock, as a user runs it: process
 * start, connect, the operation, exit. Starts a 3-server cluster and a tracing server on
 * free 127.0.0.1 ports in a temp dir, runs the CLI N times per row, prints the median and
 * p90 per row, and stops everything it started (by pid).
 *
 *   node --import tsx bench/cli-latency.ts                  # 20 runs per row, bin launcher
 *   node --import tsx bench/cli-latency.ts --runs 50 --launcher all
 *
 * Launchers: `bin` runs bin/raftkv.js (the bundle in dist/ when built, else tsx), what
 * `raftkv` after `npm link`, `npm run raftkv` and `npx raftkv` run (npx adds its own
 * ~0.5 s to find the package first); `tsx` runs `node --import tsx src/cli/raftkv.ts`,
 * the sources without the bundle. Rows are traced (the config names the tracing server) and untraced (it does not).
 * Not a test: nothing here asserts a speed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCollector, type Collector } from '../tracing/collector.ts';
import { freePorts } from '../src/cluster/free-ports.ts';
import { ProcessCluster } from '../src/cluster/process-cluster.ts';
import { defaultConfig, writeConfig } from '../src/server/config.ts';
import { installCleanupHandlers, onInterrupt, trackPids } from './cleanup.ts';
import { toolArgs } from './tool-args.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));

/** How to start the CLI, and from where: the bin runs from any directory, tsx from the repo. */
const LAUNCHERS: Record<string, { argv: string[]; cwd: string; note: string }> = {
  bin: {
    argv: [path.join(REPO, 'bin/raftkv.js')],
    cwd: os.tmpdir(),
    note: existsSync(path.join(REPO, 'dist/cli/raftkv.js')) ? 'node bin/raftkv.js (bundle dist/cli/raftkv.js)' : 'node bin/raftkv.js (no dist/: tsx fallback)',
  },
  tsx: { argv: ['--import', 'tsx', path.join(REPO, 'src/cli/raftkv.ts')], cwd: REPO, note: 'node --import tsx src/cli/raftkv.ts' },
};

const { values } = toolArgs('cli-latency', {
  options: {
    runs: { type: 'string', default: '20' },
    launcher: { type: 'string', default: 'bin' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: node --import tsx bench/cli-latency.ts [--runs N] [--launcher bin|tsx|all]');
  process.exit(0);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer (got "${values.runs}")`);
const launchers = values.launcher === 'all' ? Object.keys(LAUNCHERS) : [values.launcher!];
for (const l of launchers) {
  if (!LAUNCHERS[l]) throw new Error(`--launcher must be bin, tsx or all (got "${l}")`);
  if (l === 'bin' && !existsSync(LAUNCHERS.bin.argv[0])) throw new Error('bin/raftkv.js does not exist yet: use --launcher tsx');
}

installCleanupHandlers();
const live = new Set<number>();
trackPids(() => [...live]);

/** One CLI run: wall ms from spawn to exit, or an error with its output. */
function runCli(argv: string[], cwd: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) live.add(child.pid);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => {
      if (child.pid) live.delete(child.pid);
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`raftkv ${argv.slice(-5).join(' ')} exited ${code}: ${out.trim()}`));
    });
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-cli-latency-'));
let collector: Collector | null = null;
let cluster: ProcessCluster | null = null;
const stopAll = async () => {
  await cluster?.stopAll();
  await collector?.stop();
  rmSync(dir, { recursive: true, force: true });
};
const unregister = onInterrupt(stopAll);
try {
  collector = await startCollector({ dir: path.join(dir, 'traces'), addr: '127.0.0.1:0' });
  const ports = await freePorts(3);
  const base = defaultConfig(3, 0, path.join(dir, 'data'));
  const traced = { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })), traceServer: collector.addr };
  const tracedFile = writeConfig(path.join(dir, 'traced.json'), traced);
  const untracedFile = writeConfig(path.join(dir, 'untraced.json'), { ...traced, traceServer: null });
  cluster = new ProcessCluster(traced, tracedFile, { logDir: path.join(dir, 'logs') });
  const c = cluster;
  trackPids(() => c.ids.map((id) => c.pid(id)).filter((p): p is number => p !== undefined));
  await Promise.all(traced.servers.map((s) => c.start(s.id)));
  const leader = await c.waitForLeader();
  const follower = c.ids.find((id) => id !== leader)!;
  console.log(`3 servers (leader ${leader}), tracing server ${collector.addr}; ${runs} runs per row, client on a follower (${follower})`);
  console.log(`${os.cpus().length} cpus, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log(['launcher', 'tracing', 'op', 'median ms', 'p90 ms', 'min ms', 'max ms'].map((h, i) => (i < 3 ? h.padEnd(9) : h.padStart(10))).join(''));
  for (const l of launchers) {
    const { argv, cwd } = LAUNCHERS[l];
    // One unmeasured run per launcher: the first start reads files from disk.
    await runCli([...argv, 'put', 'warm', 'up', '--config', tracedFile, '--server', follower], cwd);
    for (const [tracing, file] of [['on', tracedFile], ['off', untracedFile]] as const) {
      for (const op of ['put', 'get'] as const) {
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
          const args = op === 'put' ? ['put', `k${i}`, `v${i}`] : ['get', `k${i}`];
          times.push(await runCli([...argv, ...args, '--config', file, '--server', follower], cwd));
        }
        times.sort((a, b) => a - b);
        const cells = [quantile(times, 0.5), quantile(times, 0.9), times[0], times.at(-1)!].map((t) => t.toFixed(0).padStart(10));
        console.log(`${l.padEnd(9)}${tracing.padEnd(9)}${op.padEnd(9)}${cells.join('')}`);
      }
    }
  }
  console.log('');
  for (const l of launchers) console.log(`${l}: ${LAUNCHERS[l].note}`);
} finally {
  await stopAll();
  unregister();
}
