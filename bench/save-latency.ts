/**
 * How long one RaftStorage.save() of one entry takes, saves one after another (what a
 * follower's AppendEntries at concurrency 1 waits for), and how many fsyncs each costs:
 * `node --import tsx bench/save-latency.ts [saves]` (default 300). Data in the OS temp
 * dir (a real disk here; on tmpfs fsync costs nothing). Not part of `npm run bench`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftStorage } from '../src/storage/raft-storage.ts';
import { toolArgs } from './tool-args.ts';

const { positionals } = toolArgs('save-latency', { allowPositionals: true, options: {} });
const saves = Number(positionals[0] ?? 300);
if (positionals.length > 1 || !Number.isInteger(saves) || saves < 1) {
  console.error(`save-latency: takes one positive integer of saves (got "${positionals.join(' ')}")`);
  process.exit(2);
}
const dir = await mkdtemp(join(tmpdir(), 'raftkv-save-latency-'));
let fsyncs = 0;
const store = await RaftStorage.open(dir, { onEvent: (e) => void (e.type === 'fsync' && fsyncs++) });
try {
  await store.save({ term: 1, votedFor: 'n1', commitIndex: 0 }, []);
  await store.idle();
  const before = fsyncs;
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  for (let index = 1; index <= saves; index++) {
    const started = performance.now();
    // As a follower saves an AppendEntries in a steady term: entries, no new hard state.
    await store.save(null, [{ index, term: 1, kind: 'command', data: `{"type":"put","key":"key-${index}","value":"${'v'.repeat(64)}"}` }]);
    latencies.push(performance.now() - started);
  }
  await store.idle();
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(saves - 1, Math.floor(saves * q))].toFixed(2);
  console.log(`save of one entry: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms; ${((fsyncs - before) / saves).toFixed(2)} fsyncs per save; ${((used.user + used.system) / saves).toFixed(0)} µs CPU per save (fsync's kernel time included)`);
} finally {
  await store.close();
  await rm(dir, { recursive: true, force: true });
}
