import { clientFailedOver } from './trace-rules.ts';
import type { ScenarioContext } from './harness.ts';
import { burstOnK1, type ScenarioDef } from './scenario.ts';

/**
 * Scenario 4's burst while 3 servers die: the one the client talks to, and (in the
 * leader variant) the leader. 7 of 7 run, because killing 3 of 4 would leave no majority.
 */
export async function midRequestFailure(ctx: ScenarioContext, killLeader: boolean, restart: boolean): Promise<void> {
  await ctx.start(...ctx.ids);
  const leader = await ctx.leader();
  const followers = ctx.ids.filter((id) => id !== leader);
  const entry = followers[0];
  const victims = killLeader ? [entry, leader, followers[1]] : [entry, followers[1], followers[2]];
  const c = await ctx.client('client0', entry, { attemptTimeoutMs: 500 });
  await burstOnK1(ctx, c, async () => {
    await ctx.kill(...victims);
    if (restart) await ctx.start(...victims);
  });
}

export const scenario: ScenarioDef = {
  id: 6,
  name: '06-mid-request-failure',
  summary: "As 4 with 7 up, but 3 servers die mid-burst (the client's server and two followers): same results, the client fails over.",
  size: 7,
  traceRules: [clientFailedOver('client0')],
  run: (ctx) => midRequestFailure(ctx, false, false),
};

export const scenarioLeader: ScenarioDef = {
  id: 6,
  name: '06b-mid-request-failure-leader',
  summary: "As 6, but the 3 that die are the client's server, the leader and a follower.",
  size: 7,
  traceRules: [clientFailedOver('client0')],
  run: (ctx) => midRequestFailure(ctx, true, false),
};
