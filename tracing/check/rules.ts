import { commitBeforeApplyRule } from './rule-commit-apply.ts';
import { clientKeyOrderRule } from './rule-client-key-order.ts';
import { clientOrderRule } from './rule-client-order.ts';
import { confChangeRule } from './rule-conf-change.ts';
import { electionSafetyRule } from './rule-election.ts';
import { exactlyOnceRule } from './rule-exactly-once.ts';
import { filesRule } from './rule-files.ts';
import { historyMatchesTraceRule } from './rule-history.ts';
import { installSnapshotRule } from './rule-install-snapshot.ts';
import { lifecycleRule } from './rule-lifecycle.ts';
import { linearizabilityRule } from './rule-linearizability.ts';
import { operationOrderRule } from './rule-operations.ts';
import { shivizRule } from './rule-shiviz.ts';
import { snapshotSafetyRule } from './rule-snapshot-safety.ts';
import { stateMachineSafetyRule } from './rule-state-machine.ts';
import { voteSafetyRule } from './rule-vote-safety.ts';
import type { NamedRule } from './trace.ts';

/** The general rules of docs/TRACING.md, in report order; scenarios append their own. */
export const GENERAL_RULES: readonly NamedRule[] = [
  { name: 'files', check: filesRule },
  { name: 'shiviz', check: shivizRule },
  { name: 'lifecycle', check: lifecycleRule },
  { name: 'operation-order', check: operationOrderRule }, // rule 1
  { name: 'election-safety', check: electionSafetyRule }, // rule 2
  { name: 'vote-safety', check: voteSafetyRule },
  { name: 'conf-change', check: confChangeRule },
  { name: 'state-machine-safety', check: stateMachineSafetyRule }, // rule 3
  { name: 'commit-before-apply', check: commitBeforeApplyRule },
  { name: 'snapshot-safety', check: snapshotSafetyRule },
  { name: 'install-snapshot', check: installSnapshotRule },
  { name: 'client-order', check: clientOrderRule }, // rule 4
  { name: 'client-key-order', check: clientKeyOrderRule },
  { name: 'linearizability', check: (t) => linearizabilityRule(t) }, // rule 5
  { name: 'history-trace', check: historyMatchesTraceRule },
  { name: 'exactly-once', check: exactlyOnceRule }, // rule 6
];

/** docs/TRACING.md's number for each general rule, for the report. */
export const RULE_REFS: Record<string, string> = {
  'operation-order': 'rule 1',
  'election-safety': 'rule 2',
  'state-machine-safety': 'rule 3',
  'client-order': 'rule 4',
  linearizability: 'rule 5',
  'exactly-once': 'rule 6',
};
