import { at, describe, result, type Rule, type Trace } from './trace.ts';

/**
 * Building blocks for scenario rules (docs/TRACING.md rule 7); a scenario passes them to
 * runChecks(dir, extraRules). Each is a Rule built from the Trace query API.
 */

/**
 * No LeaderElected before at least `min` servers had started (scenario 1: no leader while 3
 * of 7 run, one once the 4th starts). "Started" means a ServerStart of that server happens
 * before the LeaderElected: a server the winner heard from, directly or not.
 */
export function noLeaderBeforeStarted(min: number): Rule {
  return function noLeaderBeforeStartedRule(trace: Trace) {
    const offenders = trace
      .events({ tag: 'LeaderElected' })
      .map((e) => ({ e, started: trace.serversStartedBefore(e) }))
      .filter(({ started }) => started.length < min)
      .map(({ e, started }) => at(e, `${describe(e)} (term ${String(e.body.term)}) when only ${started.length} servers had started (${started.join(', ')}); at least ${min} required`));
    return result(`no-leader-before-${min}-started`, offenders);
  };
}

/** Exactly `n` LeaderElected events in the whole trace (e.g. 1 after the 4th server starts). */
export function leaderElections(n: number): Rule {
  return function leaderElectionsRule(trace: Trace) {
    const elected = trace.events({ tag: 'LeaderElected' });
    const offenders = elected.length === n ? [] : elected.slice(n).map((e) => at(e, `LeaderElected #${elected.indexOf(e) + 1}; expected ${n} in all`));
    if (elected.length < n) return result(`leader-elections-${n}`, [{ host: '-', clock: null, line: null, message: `${elected.length} LeaderElected; expected ${n}` }]);
    return result(`leader-elections-${n}`, offenders);
  };
}
