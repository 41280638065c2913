import { leaderElections, noLeaderBeforeStarted } from '../tracing/check/scenario-rules.ts';
import { sleep } from './harness.ts';
import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 1,
  name: '01-leader-election',
  summary: 'Start 3 of 7 servers: no leader can be elected; start a 4th: exactly one leader, with votes from 3 others.',
  size: 7,
  traceRules: [noLeaderBeforeStarted(4), leaderElections(1)],
  async run(ctx) {
    const [a, b, c, d] = ctx.ids;
    await ctx.start(a, b, c);
    ctx.step('3 of 7 up: waiting 3 s (several election timeouts) for a leader that must not appear');
    const deadline = Date.now() + 3000;
    let leaders = 0;
    while (Date.now() < deadline) {
      leaders += (await ctx.cluster.statuses()).filter((s) => s.role === 'leader').length;
      await sleep(100);
    }
    ctx.expect('no leader while 3 of 7 run', leaders === 0, `${leaders} leader sightings in 3 s`);
    await ctx.start(d);
    const leader = await ctx.leader();
    ctx.step(`leader: ${leader}`);
    await sleep(1000);
    const st = await ctx.cluster.statuses();
    ctx.expect('one leader, followed by all 4', st.length === 4 && st.every((s) => s.leaderId === leader), st.map((s) => `${s.serverId}->${s.leaderId}`).join(' '));
  },
};
