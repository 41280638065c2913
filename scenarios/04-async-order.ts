import { burstOnK1, type ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 4,
  name: '04-async-order',
  summary: 'One client fires Puts and Gets on k1 without waiting, then a Get on k2: results come back in call order per key.',
  size: 7,
  async run(ctx) {
    const up = ctx.ids.slice(0, 4);
    await ctx.start(...up);
    await ctx.leader();
    const c = await ctx.client('client0', up[0]);
    await burstOnK1(ctx, c);
  },
};
