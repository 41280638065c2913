import { newLeaderCanvassedAll } from './trace-rules.ts';
import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 5,
  name: '05-leader-reelection',
  summary: '7 of 7 up; kill 3 including the leader: a survivor is elected with votes from 3 others, and writes continue.',
  size: 7,
  traceRules: [newLeaderCanvassedAll(3)],
  async run(ctx) {
    await ctx.start(...ctx.ids);
    const leader = await ctx.leader();
    const others = ctx.ids.filter((id) => id !== leader);
    const victims = [leader, others[0], others[1]];
    const survivors = ctx.ids.filter((id) => !victims.includes(id));
    await ctx.kill(...victims);
    const next = await ctx.leader(survivors);
    ctx.step(`new leader: ${next}`);
    ctx.expect('a survivor leads', survivors.includes(next), `${next} leads; survivors ${survivors.join(', ')}`);
    const c = await ctx.client('client0', survivors[0]);
    const put = await c.put('after', 'reelection');
    ctx.expect('writes continue on the 4 survivors', !put.error, put.error ?? 'put ok');
  },
};
