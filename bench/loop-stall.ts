/**
 * The longest event-loop stall on each server while the largest requests RaftKV accepts
 * flow: mputs as large as MAX_COMMAND_BYTES allows (64 KiB values), puts of 64 KiB of
 * NUL characters (six times that once JSON-escaped), mgets of those keys.
 * A stall longer than the election timeout makes followers elect someone else, so the
 * figure to watch is the worst stall against the 250 ms minimum election timeout.
 *
 *   node --import tsx bench/loop-stall.ts [--rounds 5]
 *
 * Starts 3 servers on free 127.0.0.1 ports in a temp dir (untraced), reads each one's
 * stall from the admin Status (`raftkv status` shows the same), stops everything it
 * started. Not a test: nothing here asserts a speed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvClient } from '../src/client/kv-client.ts';
import { freePorts } from '../src/cluster/free-ports.ts';
import { ProcessCluster } from '../src/cluster/process-cluster.ts';
import { MAX_BATCH_KEYS, MAX_VALUE_BYTES, validateOp } from '../src/kv/command.ts';
import { defaultConfig, writeConfig } from '../src/server/config.ts';
import { installCleanupHandlers, onInterrupt, trackPids } from './cleanup.ts';
import { toolArgs } from './tool-args.ts';

const { values } = toolArgs('loop-stall', { options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`loop-stall: --rounds must be a positive integer (got "${values.rounds}")`);
  process.exit(2);
}

installCleanupHandlers();
const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-loop-stall-'));
let cluster: ProcessCluster | null = null;
let client: KvClient | null = null;
const stopAll = async () => {
  await client?.stop();
  await cluster?.stopAll();
  rmSync(dir, { recursive: true, force: true });
};
const unregister = onInterrupt(stopAll);
try {
  const ports = await freePorts(3);
  const base = defaultConfig(3, 0, path.join(dir, 'data'));
  const config = { ...base, servers: base.servers.map((s, i) => ({ ...s, addr: `127.0.0.1:${ports[i]}` })) };
  const c = new ProcessCluster(config, writeConfig(path.join(dir, 'cluster.json'), config), { logDir: path.join(dir, 'logs') });
  cluster = c;
  trackPids(() => c.ids.map((id) => c.pid(id)).filter((p): p is number => p !== undefined));
  await Promise.all(config.servers.map((s) => c.start(s.id)));
  const leader = await c.waitForLeader();
  client = await KvClient.start({ clientId: 'loop-stall', servers: config.servers, serverId: leader, attemptTimeoutMs: 20_000, opTimeoutMs: 60_000 });
  const big = 'x'.repeat(MAX_VALUE_BYTES);
  const nul = '\0'.repeat(MAX_VALUE_BYTES);
  const all = Array.from({ length: MAX_BATCH_KEYS }, (_, i) => `big${i}`);
  // The largest mput of 64 KiB values the size limit accepts.
  let fit = MAX_BATCH_KEYS;
  while (fit > 1 && validateOp({ type: 'mput', pairs: all.slice(0, fit).map((key) => ({ key, value: big })) }) !== null) fit--;
  const keys = all.slice(0, fit);
  const electionMs = config.timing.electionTick * config.timing.tickMs;
  console.log(`3 servers (leader ${leader}), ${rounds} rounds; minimum election timeout ${electionMs} ms; ${os.cpus().length} cpus, load ${os.loadavg()[0].toFixed(2)}`);
  const started = performance.now();
  for (let r = 0; r < rounds; r++) {
    await Promise.all(Array.from({ length: 4 }, (_, k) => client!.mput(keys.map((key) => ({ key: `${key}-${k}`, value: big })))));
    await Promise.all(Array.from({ length: 16 }, (_, i) => client!.put(`nul${i}`, nul)));
    await client.mget(keys.map((key) => `${key}-0`));
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`${rounds} x (4 concurrent mputs of ${fit} x 64 KiB, 16 puts of 64 KiB NULs, one ${fit}-key mget) in ${seconds.toFixed(1)} s`);
  console.log('server     role       worst stall ms   last 10-20 s ms');
  for (const id of c.ids) {
    const st = await c.status(id, 5000);
    console.log(`${id.padEnd(11)}${st.role.padEnd(11)}${String(st.loopStallWorstMs).padStart(14)}${String(st.loopStallMs).padStart(18)}`);
  }
} finally {
  await stopAll();
  unregister();
}
