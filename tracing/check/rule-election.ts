import { at, describe, result, type Offender, type RuleResult, type Trace } from './trace.ts';

/**
 * docs/TRACING.md rule 2: at most one LeaderElected per term, and its winner holds granted
 * (non-pre-vote) RequestVoteRes for that term from enough other servers that, with its own
 * vote, they are a majority of the configured cluster (meta.servers, else the servers seen
 * in the trace), each happening before the LeaderElected.
 */
export function electionSafetyRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const { servers, fromMeta } = trace.configuredServers();
  // Its own arithmetic, not src/raft's quorum(): the checker must not share the code it judges.
  const majority = Math.floor(servers.length / 2) + 1;
  const elected = trace.events({ tag: 'LeaderElected' });
  const byTerm = new Map<number, typeof elected>();
  for (const e of elected) {
    const term = Number(e.body.term);
    byTerm.set(term, [...(byTerm.get(term) ?? []), e]);
  }
  for (const [term, list] of byTerm) {
    for (const extra of list.slice(1)) offenders.push(at(extra, `a second LeaderElected in term ${term} (first: ${describe(list[0])})`));
  }
  const grants = trace.events({ tag: 'RequestVoteRes', where: (r) => r.body.voteGranted === true && r.body.preVote !== true });
  for (const e of elected) {
    const term = Number(e.body.term);
    const winner = e.host;
    if (e.body.serverId !== undefined && e.body.serverId !== winner) offenders.push(at(e, `LeaderElected on ${winner} names ${String(e.body.serverId)}`));
    if (!servers.includes(winner)) offenders.push(at(e, `${winner} is not in the configured cluster (${servers.join(', ')})`));
    const voters = new Set<string>([winner]);
    for (const g of grants) {
      if (g.body.candidateId === winner && Number(g.body.term) === term && g.host !== winner && servers.includes(g.host) && trace.hb(g, e)) voters.add(g.host);
    }
    if (voters.size < majority) {
      const others = [...voters].filter((v) => v !== winner);
      offenders.push(
        at(e, `${winner} became leader of term ${term} with ${voters.size} of ${servers.length} votes (itself${others.length ? `, ${others.join(', ')}` : ''}); a majority is ${majority}`),
      );
    }
  }
  const note = `${elected.length} elections; majority ${majority} of ${servers.length} ${fromMeta ? 'configured servers (meta.json)' : `servers seen in the trace (no meta.json): ${servers.join(', ')}`}`;
  return result('election-safety', offenders, { note });
}
