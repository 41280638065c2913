import { clientFailedOver } from './trace-rules.ts';
import { midRequestFailure } from './06-mid-request-failure.ts';
import type { ScenarioDef } from './scenario.ts';

export const scenario: ScenarioDef = {
  id: 9,
  name: '09-failure-and-recovery',
  summary: 'As 6 (leader variant), but the killed servers restart at once: the same results.',
  size: 7,
  traceRules: [clientFailedOver('client0')],
  run: (ctx) => midRequestFailure(ctx, true, true),
};
