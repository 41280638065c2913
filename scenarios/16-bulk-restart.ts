import type { KeyValue } from '../src/kv/command.ts';
import type { ScenarioDef } from './scenario.ts';

const PUTS = 50_000;
const KEYS = 10_000;
const PER_MPUT = 100;
const IN_FLIGHT = 10;
const key = (k: number) => `bulk${k}`;
/** Key k's value after the write numbered n (n % KEYS === k): the last one wins. */
const value = (n: number) => `v${n}`;

/**
 * A history far longer than a snapshot interval, then a crash of every server: the
 * restart must load the latest snapshot and the log tail after it (Raft §7), not replay
 * 50,000 writes, and lose nothing acknowledged. The puts go 100 to an mput so the trace
 * stays a size a person can open.
 */
export const scenario: ScenarioDef = {
  id: 16,
  name: '16-bulk-restart',
  summary: `${PUTS.toLocaleString('en-US')} puts over ${KEYS.toLocaleString('en-US')} keys; kill -9 every server; restart: all values there, restart time printed.`,
  size: 3,
  config: { compaction: { snapshotCount: 100, catchUpEntries: 20 } },
  async run(ctx) {
    await ctx.start(...ctx.ids);
    await ctx.leader();
    const c = await ctx.client('client0', ctx.ids[0], { opTimeoutMs: 60_000 });
    ctx.step(`${PUTS} puts, ${PER_MPUT} to an mput, ${IN_FLIGHT} mputs in flight`);
    let acked = 0;
    let failed = '';
    const started = Date.now();
    for (let n = 0; n < PUTS; n += PER_MPUT * IN_FLIGHT) {
      const answers = await Promise.all(
        Array.from({ length: IN_FLIGHT }, (_, j) => n + j * PER_MPUT)
          .filter((first) => first < PUTS)
          .map((first) => {
            const pairs: KeyValue[] = Array.from({ length: Math.min(PER_MPUT, PUTS - first) }, (_, i) => ({ key: key((first + i) % KEYS), value: value(first + i) }));
            return c.mput(pairs).then((a) => (a.error ? ((failed ||= a.error), 0) : pairs.length));
          }),
      );
      acked += answers.reduce((a, b) => a + b, 0);
      if (n % 10_000 === 0 && n > 0) ctx.step(`${acked} puts acknowledged`);
    }
    const seconds = (Date.now() - started) / 1000;
    ctx.expect(`all ${PUTS} puts acknowledged`, acked === PUTS, `${acked} in ${seconds.toFixed(1)} s${failed ? `; first error: ${failed}` : ''}`);
    const before = await ctx.cluster.statuses();
    ctx.expect('every server took snapshots and compacted its log', before.length === 3 && before.every((s) => s.snapshotIndex > 0 && s.firstLogIndex > 1), before.map((s) => `${s.serverId}: snapshot ${s.snapshotIndex}, log ${s.firstLogIndex}..${s.lastLogIndex}`).join(', '));

    await ctx.kill(...ctx.ids);
    const killed = Date.now();
    await ctx.start(...ctx.ids);
    const first = await c.put('after-restart', 'ok');
    const restartMs = Date.now() - killed;
    ctx.step(`restart: ${restartMs} ms from kill -9 of all to the first acknowledged put`);
    ctx.expect('a put is acknowledged after the restart', !first.error, first.error ?? `${restartMs} ms from kill -9 of all servers to the first acknowledged put`);

    const wrong: string[] = [];
    for (let k = 0; k < KEYS; k += 250) {
      const keys = Array.from({ length: Math.min(250, KEYS - k) }, (_, i) => key(k + i));
      const got = await c.execute({ type: 'mget', keys });
      keys.forEach((name, i) => {
        const want = value(PUTS - KEYS + k + i);
        if (got.outcome.values?.[i] !== want) wrong.push(`${name}=${JSON.stringify(got.outcome.values?.[i] ?? got.error)} (want ${want})`);
      });
    }
    ctx.expect(`all ${KEYS} keys hold their last value after the restart`, wrong.length === 0, wrong.slice(0, 5).join(', ') || `${KEYS} keys read`);
  },
};
