import type { JsonlRecord } from '../shiviz.ts';
import type { LaidOutEvent } from './layout.ts';
import type { LaneTerm, LeaderMark, TermSpan } from './model.ts';

/**
 * Terms and elections on the logical time axis. Only events where a server stamps its
 * own currentTerm count (as the vote-safety rule reads them): a term a server merely
 * received may have been refused. Pre-votes ask about a term not yet taken, so they are
 * left out too.
 */
const OWN_TERM_TAGS = new Set(['RequestVote', 'RequestVoteRes', 'LeaderElected', 'AppendEntries', 'AppendEntriesRes', 'InstallSnapshot', 'InstallSnapshotRes', 'TimeoutNow']);

/** The term a server was in at this event, or undefined when the event does not say. */
export function ownTerm(r: JsonlRecord): number | undefined {
  if (!OWN_TERM_TAGS.has(r.tag) || r.body.preVote === true) return undefined;
  const t = r.body.term;
  return typeof t === 'number' && Number.isInteger(t) ? t : undefined;
}

/**
 * The cluster-wide band: the highest term any server had acted in by each level, as
 * spans [start, end) of levels; a term that never was the highest (a candidate that
 * lost behind a newer one) has no span but keeps its lane stretch. `levels` is one past
 * the last level drawn.
 */
export function termBand(events: readonly LaidOutEvent[], levels: number): { terms: TermSpan[]; leaders: LeaderMark[] } {
  const leaders: LeaderMark[] = events
    .filter((e) => e.record.tag === 'LeaderElected' && typeof e.record.body.term === 'number')
    .map((e) => ({ event: e.id, server: String(e.record.body.serverId ?? e.record.host), term: e.record.body.term as number, level: e.level }));
  const terms: TermSpan[] = [];
  for (const e of events) {
    const t = ownTerm(e.record);
    if (t === undefined) continue;
    const last = terms[terms.length - 1];
    if (last && t <= last.term) continue;
    if (last) last.end = e.level;
    terms.push({ term: t, start: e.level, end: levels });
  }
  for (const span of terms) {
    const leader = leaders.find((l) => l.term === span.term);
    if (leader) span.leader = leader.server;
  }
  return { terms, leaders };
}

/** Per server lane: stretches of its own term, from the first event that names a term to the next that names another. */
export function laneTerms(events: readonly LaidOutEvent[], levels: number): LaneTerm[] {
  const open = new Map<string, LaneTerm>();
  const out: LaneTerm[] = [];
  for (const e of events) {
    const t = ownTerm(e.record);
    const host = e.record.host;
    const cur = open.get(host);
    if (e.record.tag === 'ServerStart' && cur) {
      // A new life: what it remembers shows in its next own-term event.
      cur.end = e.level;
      open.delete(host);
      continue;
    }
    if (t === undefined || (cur && cur.term === t)) continue;
    if (cur) cur.end = e.level;
    const span = { host, term: t, start: e.level, end: levels };
    out.push(span);
    open.set(host, span);
  }
  return out;
}
