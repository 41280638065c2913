/**
 * What the tracing server spends per record, alone: `node --import tsx bench/collector-cost.ts
 * [--chunks 800] [--lines 60] [--clock-hosts 28] [--rounds 3] [--repo DIR]`.
 *
 * Starts `raftkv trace-server` (of the checkout at --repo, default this one, so two
 * versions can be compared on one machine), streams it `chunks` stream messages of `lines`
 * Apply records each from 4 hosts, as a traced cluster's processes do (64-byte values,
 * clocks of `clock-hosts` entries: the bench's traced cluster meets a few dozen client
 * ids), waits until it has written them all, and prints its CPU (user + system, from
 * /proc, so its file writes count) per record. No cluster runs beside it, so the figure
 * moves little from run to run, unlike bench/trace-cost.ts's. Not part of `npm run bench`:
 * a tool for issue 18's tracing path.
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unary } from '../src/transport/unary.ts';
import { TraceCollectorService, type WireBatch } from '../tracing/proto.ts';
import { formatLine } from '../tracing/trace-line.ts';
import { installCleanupHandlers, trackPids } from './cleanup.ts';
import { cpuSecondsOf, freePorts, waitForPort } from './system.ts';
import { toolArgs } from './tool-args.ts';

const { values } = toolArgs('collector-cost', {
  options: {
    chunks: { type: 'string', default: '800' },
    lines: { type: 'string', default: '60' },
    'clock-hosts': { type: 'string', default: '28' },
    rounds: { type: 'string', default: '3' },
    repo: { type: 'string', default: fileURLToPath(new URL('../', import.meta.url)) },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`node --import tsx bench/collector-cost.ts [options]

  --chunks N        stream messages per round (default 800)
  --lines N         records per message (default 60)
  --clock-hosts N   entries in each record's clock (default 28, at least 4)
  --rounds N        rounds, each with a fresh tracing server; the median is printed (default 3)
  --repo DIR        the checkout whose raftkv trace-server is measured (default this one)`);
  process.exit(0);
}
const chunks = Number(values.chunks);
const lines = Number(values.lines);
const clockHosts = Number(values['clock-hosts']);
const rounds = Number(values.rounds);
if (![chunks, lines, rounds].every((n) => Number.isInteger(n) && n >= 1) || !(Number.isInteger(clockHosts) && clockHosts >= 4)) {
  console.error('--chunks, --lines and --rounds take positive integers, --clock-hosts one of at least 4 (--help)');
  process.exit(2);
}
installCleanupHandlers();

const HOSTS = ['server0', 'server1', 'server2', 'client-0'];
const OTHERS = Array.from({ length: clockHosts - HOSTS.length }, (_, i) => `bench-${i}`);

/** `chunks` messages of `lines` records, round robin over HOSTS, each host's counters from 1. */
function makeChunks(): { host: number; lines: Buffer }[] {
  const counters = HOSTS.map(() => 0);
  const out: { host: number; lines: Buffer }[] = [];
  for (let k = 0; k < chunks; k++) {
    const h = k % HOSTS.length;
    let text = '';
    for (let j = 0; j < lines; j++) {
      const n = ++counters[h];
      const clock = new Map<string, number>();
      for (const o of OTHERS) clock.set(o, 100 + k);
      HOSTS.forEach((x, i) => clock.set(x, i === h ? n : 1 + 50 * k));
      const clockText = `{${[...clock.keys()].sort().map((x) => `"${x}":${clock.get(x)}`).join(',')}}`;
      const index = k * lines + j;
      const body = JSON.stringify({ command: { type: 'put', key: `k${index % 10_000}`, value: 'v'.repeat(64) }, term: 2, index });
      text += `${formatLine(HOSTS[h], `client-0:${index}`, 'Apply', body, clockText)}\n`;
    }
    out.push({ host: h, lines: Buffer.from(text, 'utf8') });
  }
  return out;
}

async function round(data: { host: number; lines: Buffer }[]): Promise<number> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'raftkv-collector-cost-'));
  const [port] = await freePorts(1);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli/raftkv.ts', 'trace-server', '--port', String(port), '--data', root, '--run', 'r'], { cwd: values.repo, stdio: 'ignore' });
  const untrack = trackPids(() => (child.pid ? [child.pid] : []));
  const addr = `127.0.0.1:${port}`;
  const clients: grpc.Client[] = [];
  try {
    await waitForPort(addr, 30_000, () => child.exitCode === null);
    const pid = child.pid!;
    for (const _ of HOSTS) clients.push(new TraceCollectorService(addr, grpc.credentials.createInsecure()));
    const calls = clients.map((c) => (c as unknown as { Stream: (cb: () => void) => grpc.ClientWritableStream<WireBatch> }).Stream(() => {}));
    const cpu0 = cpuSecondsOf([pid]);
    for (const [k, c] of data.entries()) {
      calls[c.host].write({ lines: c.lines, history: [] });
      // Let the streams drain now and then, as processes sending through a run do.
      if (k % 50 === 49) await new Promise((r) => setTimeout(r, 1));
    }
    for (const c of calls) c.end();
    const total = chunks * lines;
    const flusher = new TraceCollectorService(addr, grpc.credentials.createInsecure());
    clients.push(flusher);
    let events = 0;
    for (let i = 0; i < 3000 && events < total; i++) {
      events = (await unary<object, { events: number }>(flusher, 'Flush', {}, 10_000)).events;
      if (events < total) await new Promise((r) => setTimeout(r, 20));
    }
    if (events < total) throw new Error(`the tracing server took ${events} of ${total} records within a minute`);
    return ((cpuSecondsOf([pid]) - cpu0) * 1e6) / total;
  } finally {
    for (const c of clients) c.close();
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    untrack();
    rmSync(root, { recursive: true, force: true });
  }
}

const data = makeChunks();
const bytes = data.reduce((n, c) => n + c.lines.length, 0);
console.log(`collector-cost: ${values.repo}: ${chunks} messages of ${lines} records (${(bytes / chunks / lines).toFixed(0)} bytes each, clocks of ${clockHosts} hosts), ${rounds} rounds`);
const perRecord: number[] = [];
for (let r = 0; r < rounds; r++) {
  perRecord.push(await round(data));
  console.log(`round ${r + 1}: ${perRecord[r].toFixed(2)} µs of tracing-server CPU per record`);
}
perRecord.sort((a, b) => a - b);
console.log(`median: ${perRecord[Math.floor(rounds / 2)].toFixed(2)} µs per record`);
process.exit(0);
