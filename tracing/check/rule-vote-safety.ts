import { at, describe, result, type Offender, type RuleResult, type Trace, type TraceEvent } from './trace.ts';

/**
 * Vote safety (Raft Figure 2: currentTerm and votedFor are persistent and currentTerm only
 * increases), per server, in its own order across its lives:
 *
 * 1. At most one granted real vote per term: two non-pre-vote `RequestVoteRes` with
 *    `voteGranted` from one server in one term to different candidates are an offender
 *    (a repeated grant to the same candidate is a retransmission). Pre-votes promise
 *    nothing and are ignored.
 * 2. Its term never goes back: the term a server stamps on what it sends or becomes is its
 *    currentTerm at that moment, so it is non-decreasing. The events used, each carrying
 *    the sender's own currentTerm (src/raft/raft.ts): `RequestVote` and `RequestVoteRes`
 *    with `preVote: false` (a pre-vote asks about term + 1, and a granted pre-vote answers
 *    in the candidate's term), `LeaderElected`, `AppendEntries`, `AppendEntriesRes`,
 *    `InstallSnapshot`, `InstallSnapshotRes` and `TimeoutNow`. Terms a server only received
 *    are not used: it may have refused them.
 *
 * Within one life both hold in memory, whatever reached the disk. Across a restart only what
 * was persisted survives, and a reply is recorded when decided but leaves only once it is on
 * disk, so an earlier life's grant or term counts only when it was persisted for sure: some
 * other host's clock names that event or a later one of the same host, i.e. a message the
 * host sent at or after it was received. Messages leave after the state they were sent in is
 * on disk, except a leader's own (AppendEntries, InstallSnapshot, TimeoutNow), whose term was
 * persisted before its vote requests left and won it the election (not so for a single-voter
 * configuration, which elects itself without sending; see docs/TRACING.md).
 */
export function voteSafetyRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const seen = seenCounters(trace);
  let grants = 0;
  let stamped = 0;
  for (const host of trace.serverHosts()) {
    const out = (e: TraceEvent) => trace.counter(e) <= (seen.get(host) ?? 0);
    const lives = trace.lives(host);
    // Per term, the grants of earlier lives that were persisted, and of this life.
    const durableVotes = new Map<number, TraceEvent>();
    let durableTerm: TraceEvent | null = null;
    for (const life of lives) {
      const lifeVotes = new Map<number, TraceEvent>();
      let lifeTerm: TraceEvent | null = null;
      for (const e of life) {
        if (isGrant(e)) {
          grants++;
          const term = Number(e.body.term);
          const first = lifeVotes.get(term) ?? durableVotes.get(term);
          if (first && first.body.candidateId !== e.body.candidateId) {
            offenders.push(
              at(e, `${host} grants its vote in term ${term} to ${String(e.body.candidateId)}, having granted it to ${String(first.body.candidateId)} in ${describe(first)}${first === lifeVotes.get(term) ? '' : ' (before a restart; votedFor is durable)'}`),
            );
          } else if (!first) lifeVotes.set(term, e);
        }
        if (stampsTerm(e)) {
          stamped++;
          const term = Number(e.body.term);
          for (const [known, restart] of [[lifeTerm, false], [durableTerm, true]] as const) {
            if (known && term < Number(known.body.term)) {
              offenders.push(at(e, `${host} acts in term ${term} (${e.tag}) after ${describe(known)} in term ${String(known.body.term)}${restart ? ' (before a restart; currentTerm is durable)' : ''}`));
              break;
            }
          }
          if (!lifeTerm || term > Number(lifeTerm.body.term)) lifeTerm = e;
        }
      }
      // What the next lives know: this life's events up to the last one whose counter some
      // other host's clock names (that message left, so everything before it was on disk).
      const lastOut = [...life].reverse().find(out);
      if (lastOut) {
        for (const e of life) {
          if (trace.counter(e) > trace.counter(lastOut)) break;
          if (isGrant(e) && !durableVotes.has(Number(e.body.term))) durableVotes.set(Number(e.body.term), e);
          if (stampsTerm(e) && (!durableTerm || Number(e.body.term) > Number(durableTerm.body.term))) durableTerm = e;
        }
      }
    }
  }
  return result('vote-safety', offenders, { note: `${grants} granted votes, ${stamped} events stamped with the sender's term` });
}

/** A real (non-pre-vote) granted vote. */
function isGrant(e: TraceEvent): boolean {
  return e.tag === 'RequestVoteRes' && e.body.voteGranted === true && e.body.preVote !== true;
}

const OWN_TERM_TAGS = new Set(['LeaderElected', 'AppendEntries', 'AppendEntriesRes', 'InstallSnapshot', 'InstallSnapshotRes', 'TimeoutNow']);

/** An event whose `term` is its host's currentTerm when it recorded it. */
function stampsTerm(e: TraceEvent): boolean {
  if (typeof e.body.term !== 'number') return false;
  if (e.tag === 'RequestVote' || e.tag === 'RequestVoteRes') return e.body.preVote !== true;
  return OWN_TERM_TAGS.has(e.tag);
}

/** Per host, the highest of its counters that another host's clock names (what left it and arrived). */
function seenCounters(trace: Trace): Map<string, number> {
  const seen = new Map<string, number>();
  for (const e of trace.records) {
    for (const [h, n] of Object.entries(e.clock)) {
      if (h !== e.host && n > (seen.get(h) ?? 0)) seen.set(h, n);
    }
  }
  return seen;
}
