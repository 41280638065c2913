import { ConfigsInForce, originText, setText, type Configuration } from './config-in-force.ts';
import { countMajority, neededText, type MajorityCount } from './majority.ts';
import { at, describe, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * docs/TRACING.md rule 2: at most one LeaderElected per term, and its winner holds granted
 * (non-pre-vote) RequestVoteRes for that term, each happening before the LeaderElected,
 * from servers that with its own vote are a majority of the voters of a configuration
 * that could be in force at it (config-in-force.ts): of both C_old and C_new while joint.
 * Learners' votes, and votes of servers outside the configuration, never count. The
 * winner must be a voter there too.
 */
export function electionSafetyRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const configs = new ConfigsInForce(trace);
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
    const possible = configs.possibleAt(e, term);
    const origin = (c: Configuration) => originText(c, configs.initialSource);
    if (!possible.some((c) => c.voters.includes(winner) || c.votersOutgoing.includes(winner))) {
      offenders.push(at(e, `${winner} is not a voter of the configuration in force (${possible.map((c) => `${setText(c.voters)}${c.votersOutgoing.length ? ` and ${setText(c.votersOutgoing)}` : ''}: ${origin(c)}`).join(', or ')})`));
    }
    const votes = new Set<string>([winner]);
    for (const g of grants) {
      if (g.body.candidateId === winner && Number(g.body.term) === term && g.host !== winner && trace.hb(g, e)) votes.add(g.host);
    }
    const counts = possible.map((c) => countMajority(c, votes));
    if (counts.some((c) => c.ok)) continue;
    const voters = new Set(possible.flatMap((c) => [...c.voters, ...c.votersOutgoing]));
    const learners = [...votes].filter((v) => !voters.has(v) && possible.some((c) => c.learners.includes(v)));
    const strangers = [...votes].filter((v) => !voters.has(v) && !learners.includes(v));
    const ignored = [
      ...(learners.length ? [`${learners.join(', ')} (learners)`] : []),
      ...(strangers.length ? [`${strangers.join(', ')} (not members)`] : []),
    ];
    offenders.push(
      at(
        e,
        `${winner} became leader of term ${term} with ${withText(counts[0], winner)}; needs ${counts.map((c) => `${neededText(c)}: ${origin(c.conf)}`).join(', or ')}` +
          (ignored.length ? `; not counted: ${ignored.join(', ')}` : ''),
      ),
    );
  }
  return result('election-safety', offenders, { note: noteText(configs, elected.length) });
}

/** `1 of 3 votes (itself)`, or while joint `votes 3 of 5 of C_new (itself, server3, server4) and 1 of 3 of C_old (itself)`. */
function withText(count: MajorityCount, winner: string): string {
  const names = (g: string[]) => (g.length ? ` (${[...(g.includes(winner) ? ['itself'] : []), ...g.filter((v) => v !== winner)].join(', ')})` : '');
  const [only] = count.halves;
  if (count.halves.length === 1) return `${only.granted.length} of ${only.voters.length} votes${names(only.granted)}`;
  return `votes ${count.halves.map((h) => `${h.granted.length} of ${h.voters.length} of ${h.label}${names(h.granted)}`).join(' and ')}`;
}

function noteText(configs: ConfigsInForce, elections: number): string {
  const n = configs.initial.voters.length;
  if (n === 0 && configs.committed.length === 0) return `${elections} elections; no servers in the trace and no meta.json: no majority to count`;
  const list = configs.initial.voters.join(', ');
  const from = {
    'meta.json': 'configured servers (meta.json)',
    'meta.json voters': `initial voters (meta.json voters): ${list}`,
    'first change': `voters before the first configuration change (no meta.json): ${list}`,
    'servers seen': `servers seen in the trace (no meta.json): ${list}`,
  }[configs.initialSource];
  const changes = configs.committed.length;
  const last = [...configs.committed].sort((a, b) => Number(b.body.index) - Number(a.body.index))[0];
  const then = last
    ? `; then the configuration in force: ${changes} configuration change${changes === 1 ? '' : 's'} committed, the last ${describeCommitted(last)}`
    : '';
  return `${elections} elections; majority ${Math.floor(n / 2) + 1} of ${n} ${from}${then}`;
}

function describeCommitted(e: TraceEvent): string {
  const out = Array.isArray(e.body.votersOutgoing) && e.body.votersOutgoing.length > 0 ? ` and ${setText(e.body.votersOutgoing as string[])} (joint)` : '';
  return `${setText((e.body.voters as string[]) ?? [])}${out} at index ${String(e.body.index)}`;
}
