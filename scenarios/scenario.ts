import type { ExtraRule } from '../tracing/check/report.ts';
import type { ClusterConfig } from '../src/server/config.ts';
import type { ScenarioContext } from './harness.ts';
import type { RemoteClient, Answer } from './remote-client.ts';

/** One numbered demo scenario (docs/SCENARIOS.md). */
export interface ScenarioDef {
  id: number;
  /** Directory name under traces/, e.g. "01-leader-election". */
  name: string;
  /** One sentence for the README and the demo table. */
  summary: string;
  /** Servers in the configuration (not all need to run). */
  size: number;
  /** Overrides of the cluster config (e.g. a small compaction.snapshotCount so snapshots happen in a short run). */
  config?: Partial<Pick<ClusterConfig, 'compaction'>>;
  run(ctx: ScenarioContext): Promise<void>;
  /** The scenario's own rules on its trace, beside the general ones (docs/TRACING.md rule 7). */
  traceRules?: ExtraRule[];
}

/**
 * The burst of scenario 4 (reused by 6 and 9): Puts and Gets on k1 without waiting, then
 * a Get on k2. Each Get(k1) must see the Put with the highest lower OpId.
 */
export async function burstOnK1(ctx: ScenarioContext, client: RemoteClient, during?: () => Promise<void>): Promise<void> {
  const calls: { kind: 'put' | 'get'; value?: string; answer: Promise<Answer> }[] = [];
  for (let i = 1; i <= 6; i++) {
    calls.push({ kind: 'put', value: `v${i}`, answer: client.put('k1', `v${i}`) });
    calls.push({ kind: 'get', answer: client.get('k1') });
  }
  const k2 = client.get('k2');
  if (during) await during();
  const answers = await Promise.all(calls.map((c) => c.answer));
  const k2Answer = await k2;
  const failed = [...answers, k2Answer].filter((a) => a.error);
  ctx.expect('every operation succeeded', failed.length === 0, failed.map((a) => a.error).join('; ') || 'all answered');
  const opIds = answers.map((a) => a.outcome.opId);
  ctx.expect('results carry OpIds in call order', opIds.every((id, i) => i === 0 || id > opIds[i - 1]), `opIds ${opIds.join(', ')}`);
  let lastPut = '';
  const wrong: string[] = [];
  calls.forEach((c, i) => {
    if (c.kind === 'put') lastPut = c.value!;
    else if (answers[i].outcome.value !== lastPut) wrong.push(`Get(k1) opId ${answers[i].outcome.opId} returned "${answers[i].outcome.value}", expected "${lastPut}"`);
  });
  ctx.expect('each Get(k1) returns the Put with the highest lower OpId', wrong.length === 0, wrong.join('; ') || `values follow the puts v1..v6`);
  ctx.expect('Get(k2) returns the empty value', k2Answer.outcome.value === '', `Get(k2) = "${k2Answer.outcome.value}"`);
}
