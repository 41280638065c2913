/**
 * Where a put's latency goes: `node --import tsx bench/latency-breakdown.ts [--conc 1]
 * [--seconds 5] [--warmup 5] [--servers 3]`.
 *
 * Starts a RaftKV cluster (tracing off) with RAFTKV_TIMELINE set for its servers and for
 * this process's clients (tracing/timeline.ts), drives closed-loop puts (64-byte values,
 * 10k keys; unmeasured warm-up first, as V8 optimizes for seconds), then lines each put's
 * steps up across the client, the leader and the first follower to get its entries, and
 * prints each leg's p50 and mean in µs (timeline-breakdown.ts). Exact at concurrency 1;
 * above it the client's legs are matched by order, the rest still by entry index.
 *
 * Not part of `npm run bench`: a tool for issue 18's single-client latency.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { flushTimeline } from '../tracing/timeline.ts';
import { installCleanupHandlers, onInterrupt } from './cleanup.ts';
import { toolArgs } from './tool-args.ts';
import { startRaftkv } from './raftkv-target.ts';
import { breakdown, readTimeline } from './timeline-breakdown.ts';
import { runClosedLoop } from './workload.ts';

const usage = `node --import tsx bench/latency-breakdown.ts [options]

  --conc N       closed-loop put workers (default 1; one client per 16)
  --seconds S    measured seconds (default 5)
  --warmup S     unmeasured seconds first (default 5)
  --servers N    cluster size, 1-9 (default 3)
  --root DIR     an existing directory for the cluster's temp dir (default /tmp; a real disk)`;
const { values } = toolArgs('latency-breakdown', {
  options: {
    conc: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '5' },
    servers: { type: 'string', default: '3' },
    root: { type: 'string', default: '/tmp' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const conc = Number(values.conc);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
const servers = Number(values.servers);
if (!(Number.isInteger(conc) && conc >= 1 && seconds > 0 && warmup >= 0 && Number.isInteger(servers) && servers >= 1 && servers <= 9)) {
  console.error('latency-breakdown: --conc takes a positive integer, --servers an integer from 1 to 9, --seconds a positive number, --warmup a number >= 0 (--help)');
  process.exit(2);
}
if (!existsSync(values.root) || !statSync(values.root).isDirectory()) {
  console.error(`latency-breakdown: --root ${values.root} is not an existing directory`);
  process.exit(2);
}
installCleanupHandlers();

const dir = mkdtempSync(path.join(tmpdir(), 'raftkv-timeline-'));
// Removed on Ctrl-C too, once the servers are stopped (their last marks go at exit).
onInterrupt(async () => rmSync(dir, { recursive: true, force: true }));
// This process's clients mark too; the variable is read at the first mark.
process.env.RAFTKV_TIMELINE = dir;
const ms = () => Number(process.hrtime.bigint() / 1000n) / 1000;
const sys = await startRaftkv({ servers, root: values.root, env: { RAFTKV_TIMELINE: dir } });
let window: [number, number] = [0, 0];
let opsPerSec = 0;
let p50 = 0;
try {
  const leader = await sys.leader();
  const clients = Math.ceil(conc / 16);
  const targets = await Promise.all(Array.from({ length: clients }, (_, i) => sys.connect({ clientId: `breakdown-${i}`, memberId: leader, attemptTimeoutMs: 5000, opTimeoutMs: 20_000 })));
  const load = { op: 'put' as const, targets, concurrency: conc, keys: 10_000, valueBytes: 64 };
  if (warmup > 0) await runClosedLoop({ ...load, warmupMs: 0, durationMs: warmup * 1000 });
  const from = ms();
  const r = await runClosedLoop({ ...load, warmupMs: 0, durationMs: seconds * 1000 });
  window = [from, ms()];
  opsPerSec = r.opsPerSec;
  p50 = r.latency.p50;
  for (const t of targets) await t.close();
} finally {
  // Stopped servers write out their last marks at exit.
  await sys.stop();
}
flushTimeline();
const result = breakdown(readTimeline(dir), window[0], window[1]);
rmSync(dir, { recursive: true, force: true });
console.log(`latency breakdown: ${servers} server${servers === 1 ? '' : 's'}, ${conc} put worker${conc === 1 ? '' : 's'}, ${seconds} s after ${warmup} s of warm-up: ${Math.round(opsPerSec)} puts/s, p50 ${p50.toFixed(2)} ms (timeline marks on)`);
if (!result) {
  console.error('no put was found whole in the timeline (did the servers run with RAFTKV_TIMELINE?)');
  process.exit(1);
}
// One put per batch the leader proposed: at concurrency 1 that is every put; above it a
// batch carries several, and the one followed is the last request before the proposal.
console.log(`${result.puts} of ${result.proposals} proposals lined up, one put each${conc > 1 ? ' (a batch carries several puts; its last request is the one followed)' : ''}\n${'leg'.padEnd(42)}${'p50 µs'.padStart(8)}${'mean µs'.padStart(9)}`);
for (const row of result.rows) console.log(`${row.leg.padEnd(42)}${Math.round(row.p50Us).toString().padStart(8)}${Math.round(row.meanUs).toString().padStart(9)}`);
