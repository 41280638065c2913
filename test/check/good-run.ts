import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startCollector } from '../../tracing/collector.ts';
import { startTestCluster, type TestCluster } from '../integration/helpers.ts';

export interface GoodRun {
  dir: string;
  servers: string[];
  /** The leader of the first term, killed midway and restarted. */
  firstLeader: string;
  /** The server client "ann" talks to first: a follower, so her requests are forwarded. */
  follower: string;
}

/**
 * A real traced run on 3 server processes: two clients (one through a follower, one on the
 * leader) doing put/get/incr/mput/mget/delete, an incr on text (fails deterministically),
 * then the leader is killed mid-load, a new one takes over, and the old one restarts and
 * catches up. Writes shiviz.log, trace.jsonl, history.json and meta.json into `dir`.
 */
export async function produceGoodRun(dir: string): Promise<GoodRun> {
  const collector = await startCollector({ dir });
  let tc: TestCluster | null = null;
  let stopped = false;
  try {
    tc = await startTestCluster(3, (c) => ({ ...c, traceServer: collector.addr }));
    const servers = tc.config.servers.map((s) => s.id);
    const leader = await tc.cluster.waitForLeader();
    const follower = servers.find((s) => s !== leader)!;
    const ann = await tc.client({ clientId: 'ann', serverId: follower, followLeader: false, traceServer: collector.addr, attemptTimeoutMs: 500 });
    const ben = await tc.client({ clientId: 'ben', serverId: leader, traceServer: collector.addr, attemptTimeoutMs: 500 });

    await ann.put('k1', 'v1');
    await Promise.all([ann.get('k1'), ben.get('k1'), ben.get('never')]);
    await Promise.all([ann.incr('n'), ben.incr('n')]);
    await ann.mput([{ key: 'a', value: '1' }, { key: 'b', value: '2' }]);
    await Promise.all([ben.mget(['a', 'b', 'k1']), ann.put('k2', 'text')]);
    await ben.incr('k2').catch(() => undefined); // incr on text: fails deterministically
    await ben.delete('a');

    // Kill the leader while both clients have operations in flight.
    const inflight = [ann.put('k1', 'v2'), ben.put('k3', 'x'), ann.incr('n'), ben.get('k1'), ann.get('a')];
    await tc.cluster.kill(leader);
    await Promise.allSettled(inflight);
    await tc.cluster.waitForLeader();
    await Promise.all([ann.put('k4', 'after'), ben.incr('n'), ben.get('k1')]);
    await tc.cluster.start(leader);
    await tc.cluster.waitFor(leader, (s) => s.leaderId !== '' && s.leaderId !== leader, 10_000, `${leader} to rejoin`);
    await Promise.all([ann.mget(['n', 'k4', 'b']), ben.put('k5', 'last')]);
    const applied = Math.max(...(await tc.cluster.statuses()).map((s) => s.appliedIndex));
    await tc.cluster.waitFor(leader, (s) => s.appliedIndex >= applied, 10_000, `${leader} to catch up`);
    await tc.teardown();
    tc = null;
    stopped = true;
    await collector.stop();
    writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ servers, scenario: 'check-good-run' }, null, 1));
    return { dir, servers, firstLeader: leader, follower };
  } finally {
    await tc?.teardown();
    if (!stopped) await collector.stop();
  }
}
