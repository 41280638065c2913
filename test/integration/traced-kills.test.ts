import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KvClient } from '../../src/client/kv-client.ts';
import { formatReport, runChecks } from '../../tracing/check/report.ts';
import { startCollector, type Collector } from '../../tracing/collector.ts';
import { startTestCluster, type TestCluster } from './helpers.ts';

/**
 * Real processes, killed with SIGKILL again and again while a client writes, then the
 * whole checker on the run: every rule passes. What it guards: a restarted server that
 * learns a commit from a heartbeat whose send was not recorded (commit-before-apply), and
 * records a token named but the log lost with the process (the ShiViz rules:
 * unknown-counter).
 */

let tc: TestCluster | null = null;
let collector: Collector | null = null;
let traceRoot: string | null = null;
const burners: ChildProcess[] = [];
afterEach(async () => {
  stopBurners();
  await tc?.teardown();
  await collector?.stop();
  if (traceRoot) rmSync(traceRoot, { recursive: true, force: true });
  tc = null;
  collector = null;
  traceRoot = null;
});

async function tracedCluster(n: number): Promise<TestCluster> {
  traceRoot = mkdtempSync(path.join(os.tmpdir(), 'raftkv-kills-'));
  collector = await startCollector({ dir: path.join(traceRoot, 'run') });
  // Generous: servers start slowly on a loaded machine (the CPU test loads it on purpose).
  tc = await startTestCluster(n, (c) => ({ ...c, traceServer: collector!.addr }), { readyTimeoutMs: 60_000 });
  return tc;
}

/** Busy-loop processes (one per core) that load the CPU until stopped by pid; each quits by itself after `maxMs`. */
function startBurners(maxMs: number): void {
  for (let i = 0; i < os.availableParallelism(); i++) {
    const script = `const end = Date.now() + ${maxMs}; while (Date.now() < end) {}`;
    burners.push(spawn(process.execPath, ['-e', script], { stdio: 'ignore' }));
  }
}

function stopBurners(): void {
  for (const b of burners.splice(0)) if (b.pid !== undefined && b.exitCode === null && b.signalCode === null) process.kill(b.pid, 'SIGKILL');
}

/** Puts from `client`, `depth` at a time, until stop() (which waits for those under way). */
function writer(client: KvClient, prefix: string, depth = 4): { stop(): Promise<number> } {
  let running = true;
  let done = 0;
  const loops = Array.from({ length: depth }, async (_, lane) => {
    for (let i = 0; running && i < 100_000; i++) {
      // Failed puts (no leader for a moment) are in the history as failures; the client retries within its deadline.
      await client.put(`${prefix}${lane}`, `${i}`).catch(() => undefined);
      done++;
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return done;
    },
  };
}

/** Stops clients and servers (their streams end), lets the tracing server write everything, and checks the run. */
async function checkRun(): Promise<void> {
  await tc!.teardown();
  tc = null;
  collector!.flush();
  const report = runChecks(collector!.dir);
  expect(report.results.find((r) => r.rule === 'operation-order')?.note).toMatch(/^[1-9]\d* answered operations/);
  expect(report.results.filter((r) => r.status === 'FAIL').map((r) => r.rule), formatReport(report)).toEqual([]);
  expect(report.results.find((r) => r.rule === 'commit-before-apply')?.status).toBe('PASS');
}

describe('kill -9 under writes, traced: every checker rule passes', () => {
  it('the leader is killed mid-writes and restarted while the cluster idles, three times', async () => {
    const t = await tracedCluster(3);
    const client = await t.client({ clientId: 'writer', traceServer: collector!.addr });
    for (let cycle = 0; cycle < 3; cycle++) {
      const w = writer(client, `c${cycle}-`);
      await new Promise((r) => setTimeout(r, 300));
      const leader = await t.cluster.waitForLeader();
      await t.cluster.kill(leader);
      const next = await t.cluster.waitForLeader();
      await new Promise((r) => setTimeout(r, 300)); // writes go on under the new leader
      expect(await w.stop()).toBeGreaterThan(0);
      // Idle: the new leader's commit stops moving, so its heartbeats to the dead server
      // all carry the commit index it already "sent" (the first of them, lost).
      const { commitIndex } = await t.cluster.status(next);
      await new Promise((r) => setTimeout(r, 300));
      await t.cluster.start(leader);
      await t.cluster.waitFor(leader, (s) => s.appliedIndex >= commitIndex, 15_000, `${leader} to apply up to ${commitIndex}`);
    }
    const w = writer(client, 'after-');
    await new Promise((r) => setTimeout(r, 300));
    await w.stop();
    await checkRun();
  }, 180_000);

  it('under CPU load, the server a client talks to is killed mid-Put, four times, the last two left dead', async () => {
    const t = await tracedCluster(5);
    const dead = new Set<string>();
    for (let cycle = 0; cycle < 4; cycle++) {
      const leader = await t.cluster.waitForLeader(30_000);
      const entry = t.config.servers.find((s) => s.id !== leader && !dead.has(s.id))!.id;
      const client = await t.client({ clientId: `load${cycle}`, serverId: entry, traceServer: collector!.addr, attemptTimeoutMs: 2_000 });
      // Loaded while the Puts run and the server dies; not while a server starts (its
      // start would outlast the cluster's 15 s wait for it on a small machine).
      startBurners(60_000);
      const puts = Array.from({ length: 30 }, (_, i) => client.put(`k${cycle}-${i}`, `v${i}`).catch(() => undefined));
      await new Promise((r) => setTimeout(r, 20 + 40 * cycle));
      await t.cluster.kill(entry);
      // The client fails over to another server and retries: the writes go through.
      expect((await Promise.all(puts)).filter((r) => r !== undefined).length).toBeGreaterThan(0);
      stopBurners();
      // A server killed for good never resends from its spool: the tracing server must read it.
      if (cycle >= 2) {
        dead.add(entry);
        continue;
      }
      await t.cluster.start(entry);
      await t.cluster.waitFor(entry, (s) => s.leaderId !== '', 30_000, `${entry} to rejoin`);
    }
    await checkRun();
  }, 240_000);
});
