import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 11,
  name: '11-full-restart-durability',
  summary: 'Put 30 keys, kill -9 every server, restart all: every acknowledged put is still there.',
  size: 5,
  async run(ctx) {
    await ctx.start(...ctx.ids);
    await ctx.leader();
    const c = await ctx.client('client0', ctx.ids[1]);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => c.put(`key${i}`, `value${i}`)));
    const acked = answers.map((a, i) => (a.error ? -1 : i)).filter((i) => i >= 0);
    ctx.expect('all 30 puts acknowledged', acked.length === 30, `${acked.length} acknowledged`);
    await ctx.kill(...ctx.ids);
    await ctx.start(...ctx.ids);
    await ctx.leader();
    const missing: string[] = [];
    for (const i of acked) {
      const got = await c.get(`key${i}`);
      if (got.outcome.value !== `value${i}`) missing.push(`key${i}="${got.outcome.value}"`);
    }
    ctx.expect('every acknowledged put survived', missing.length === 0, missing.join(', ') || `${acked.length} keys read back`);
  },
};
