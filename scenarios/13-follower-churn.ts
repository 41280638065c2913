import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 13,
  name: '13-follower-churn',
  summary: 'Kill and restart a follower 3 times under a steady load: every get and put succeeds and the follower catches up.',
  size: 5,
  async run(ctx) {
    await ctx.start(...ctx.ids);
    const leader = await ctx.leader();
    const churned = ctx.ids.find((id) => id !== leader)!;
    const c = await ctx.client('client0', leader);
    let stop = false;
    let n = 0;
    const errors: string[] = [];
    const load = (async () => {
      while (!stop && n < 2000) {
        const put = await c.put(`load${n % 20}`, String(n));
        const get = await c.get(`load${n % 20}`);
        if (put.error) errors.push(put.error);
        if (get.error) errors.push(get.error);
        else if (get.outcome.value !== String(n)) errors.push(`get load${n % 20} = ${get.outcome.value}, expected ${n}`);
        n++;
        // Paced, so the trace stays a few thousand events: small enough for ShiViz in a browser.
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    for (let round = 0; round < 3; round++) {
      await ctx.kill(churned);
      await new Promise((r) => setTimeout(r, 300));
      await ctx.start(churned);
    }
    stop = true;
    await load;
    ctx.expect('every get and put succeeded', errors.length === 0, errors.slice(0, 3).join('; ') || `${n} put+get pairs`);
    const commit = (await ctx.cluster.status(await ctx.leader())).commitIndex;
    await ctx.cluster.waitFor(churned, (s) => s.appliedIndex >= commit, 10_000, `${churned} to catch up`);
    ctx.expect('the churned follower caught up', true, `applied ${commit}`);
  },
};
