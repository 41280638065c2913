import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 10,
  name: '10-majority-loss',
  summary: '5 servers: kill the leader, the next leader, then one more: puts fail fast with a clear no-quorum error, and work again after restarts.',
  size: 5,
  async run(ctx) {
    await ctx.start(...ctx.ids);
    const first = await ctx.leader();
    await ctx.kill(first);
    const second = await ctx.leader(ctx.ids.filter((id) => id !== first));
    const c = await ctx.client('client0', ctx.ids.find((id) => id !== first && id !== second)!, { attemptTimeoutMs: 1000, opTimeoutMs: 4000 });
    const ok = await c.put('k', 'with-4');
    ctx.expect('a put succeeds with 4 of 5 up', !ok.error, ok.error ?? 'ok');
    await ctx.kill(second);
    await ctx.leader(ctx.ids.filter((id) => id !== first && id !== second));
    const down = [first, second, ctx.ids.filter((id) => id !== first && id !== second).at(-1)!];
    await ctx.kill(down[2]);
    ctx.step('3 of 5 down: a put must fail with a clear error, not hang');
    const started = Date.now();
    const failed = await c.put('k', 'with-2');
    const ms = Date.now() - started;
    ctx.expect('the put fails with a clear error', !!failed.error && /majority|leader|quorum/i.test(failed.error), failed.error ?? 'it succeeded');
    ctx.expect('it fails within the client timeout, not a hang', ms < 10_000, `${ms} ms`);
    await ctx.start(...down);
    await ctx.leader();
    const again = await c.put('k', 'after-restart');
    ctx.expect('puts succeed again after the restarts', !again.error, again.error ?? 'ok');
  },
};
