/**
 * Where tracing's cost goes, per process: `node --import tsx bench/trace-cost.ts [--conc 64]
 * [--rounds 3] [--seconds 3] [--only on|off] [--cpu-prof DIR]`.
 *
 * Starts a 3-server cluster with tracing off, then one with tracing on (and its tracing
 * server), `rounds` times in turn, and drives each with `conc` closed-loop put workers (4
 * clients in this process) for `seconds` after a 1.5 s warm-up. Prints, per run, puts/s
 * and the CPU each process spent per put in µs (/proc/<pid>/stat, user + system, so fsyncs
 * spent in the kernel count): the leader, the two followers, the tracing server, and this
 * process (the clients); then the medians of each. Runs alternate, so a machine whose load
 * changes meanwhile skews both sides alike.
 *
 * Not part of `npm run bench`: a tool for finding what tracing costs where (issue 18).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { installCleanupHandlers } from './cleanup.ts';
import { startRaftkv } from './raftkv-target.ts';
import { cpuSecondsOf } from './system.ts';
import { defaultTraceServer } from './trace-server.ts';
import { runClosedLoop } from './workload.ts';
import { toolArgs } from './tool-args.ts';

const { values } = toolArgs('trace-cost', {
  options: {
    conc: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    root: { type: 'string', default: '/tmp' },
    /** Only tracing off or only on (e.g. to profile this process with --cpu-prof). */
    only: { type: 'string' },
    /** V8 CPU profiles of the servers, one per process, into this directory (bench/cpu-prof.mjs). */
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`node --import tsx bench/trace-cost.ts [options]

  --conc N         closed-loop put workers (default 64, over 4 clients)
  --rounds N       runs of tracing off then on (default 3); medians at the end
  --seconds S      measured seconds per run, after a 1.5 s warm-up (default 3)
  --only on|off    run one side only (e.g. to profile this process with --cpu-prof)
  --cpu-prof DIR   V8 profiles of the servers into DIR/off and DIR/on
  --root DIR       where the clusters' temp dirs go (default /tmp; a real disk)`);
  process.exit(0);
}
const conc = Number(values.conc);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
if (!(conc >= 1 && rounds >= 1 && seconds > 0) || (values.only !== undefined && values.only !== 'on' && values.only !== 'off')) {
  console.error('--conc, --rounds and --seconds take positive numbers, --only on or off (--help)');
  process.exit(2);
}
const starter = defaultTraceServer().starter;
if (!starter) throw new Error('no tracing server to start (raftkv trace-server)');
installCleanupHandlers();

interface Run {
  traced: boolean;
  opsPerSec: number;
  /** µs of CPU per put: leader, follower, follower, tracing server (traced), clients. */
  cpu: { leader: number; followers: number[]; traceServer: number; clients: number };
}

async function once(traced: boolean): Promise<Run> {
  const prof = values['cpu-prof'] ? { env: { NODE_OPTIONS: `--import ${new URL('./cpu-prof.mjs', import.meta.url).pathname}`, BENCH_CPU_PROF_DIR: path.resolve(values['cpu-prof'], traced ? 'on' : 'off') } } : {};
  if (prof.env) mkdirSync(prof.env.BENCH_CPU_PROF_DIR, { recursive: true });
  const sys = await startRaftkv({ servers: 3, root: values.root!, ...prof, ...(traced ? { traceServer: starter! } : {}) });
  try {
    const leader = await sys.leader();
    const members = sys.members;
    const targets = await Promise.all([0, 1, 2, 3].map((i) => sys.connect({ clientId: `cost-${traced ? 'on' : 'off'}-${i}`, memberId: members[i % members.length], attemptTimeoutMs: 5000, opTimeoutMs: 20_000 })));
    await runClosedLoop({ op: 'put', targets, concurrency: conc, keys: 10_000, valueBytes: 64, warmupMs: 0, durationMs: 1500 });
    const pids = sys.pids(); // servers in member order, then the tracing server's
    const cpu0 = pids.map((p) => cpuSecondsOf([p]));
    const me0 = process.cpuUsage();
    const r = await runClosedLoop({ op: 'put', targets, concurrency: conc, keys: 10_000, valueBytes: 64, warmupMs: 0, durationMs: seconds * 1000 });
    const me = process.cpuUsage(me0);
    const per = pids.map((p, i) => ((cpuSecondsOf([p]) - cpu0[i]) / Math.max(1, r.ops)) * 1e6);
    for (const t of targets) await t.close();
    const li = members.indexOf(leader);
    return {
      traced,
      opsPerSec: r.opsPerSec,
      cpu: {
        leader: per[li],
        followers: members.map((_, i) => i).filter((i) => i !== li).map((i) => per[i]),
        traceServer: traced ? per[members.length] ?? NaN : 0,
        clients: (me.user + me.system) / Math.max(1, r.ops),
      },
    };
  } finally {
    await sys.stop();
  }
}

const fmt = (r: Run) =>
  `${(r.traced ? 'on' : 'off').padEnd(4)} ${Math.round(r.opsPerSec).toString().padStart(6)} puts/s   µs CPU per put: leader ${Math.round(r.cpu.leader)}, followers ${r.cpu.followers.map(Math.round).join('/')}, tracing server ${Math.round(r.cpu.traceServer)}, clients ${Math.round(r.cpu.clients)}, all ${Math.round(r.cpu.leader + r.cpu.followers.reduce((a, b) => a + b, 0) + r.cpu.traceServer + r.cpu.clients)}`;

console.log(`trace-cost: 3 servers, ${conc} put workers (4 clients), ${seconds} s per run, ${rounds} rounds of off/on`);
const runs: Run[] = [];
for (let i = 0; i < rounds; i++) {
  for (const traced of values.only === 'on' ? [true] : values.only === 'off' ? [false] : [false, true]) {
    const r = await once(traced);
    runs.push(r);
    console.log(fmt(r));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mid = (traced: boolean): Run => {
  const rs = runs.filter((r) => r.traced === traced);
  return {
    traced,
    opsPerSec: median(rs.map((r) => r.opsPerSec)),
    cpu: {
      leader: median(rs.map((r) => r.cpu.leader)),
      followers: [0, 1].map((k) => median(rs.map((r) => r.cpu.followers[k]))),
      traceServer: median(rs.map((r) => r.cpu.traceServer)),
      clients: median(rs.map((r) => r.cpu.clients)),
    },
  };
};
if (values.only) process.exit(0);
console.log('medians:');
const [off, on] = [mid(false), mid(true)];
console.log(fmt(off));
console.log(fmt(on));
console.log(`traced/untraced puts/s: ${(on.opsPerSec / off.opsPerSec).toFixed(2)}x`);
