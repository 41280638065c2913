import { ConfigsInForce } from '../tracing/check/config-in-force.ts';
import { at, describe, nowhere, result, type Rule } from '../tracing/check/trace.ts';

/**
 * Scenario 5: the newest leader asked every other voter for its vote in the term it won
 * (RequestVote to each peer) and was granted at least `grants` of them. The voters are
 * those of the configuration in force (meta.json's servers before any membership change):
 * those that every configuration that could be in force at the leader has (config-in-force.ts).
 */
export function newLeaderCanvassedAll(grants: number): Rule {
  return function newLeaderCanvassedAll(trace) {
    const elected = trace.events({ tag: 'LeaderElected' }).sort((a, b) => (b.body.term as number) - (a.body.term as number))[0];
    if (!elected) return result('new-leader-canvassed-all', [nowhere('-', 'no LeaderElected in the trace')]);
    const term = elected.body.term as number;
    const possible = new ConfigsInForce(trace).possibleAt(elected, term);
    const votersOf = (c: (typeof possible)[number]) => [...c.voters, ...c.votersOutgoing];
    const peers = [...new Set(votersOf(possible[0]))].filter((s) => s !== elected.host && possible.every((c) => votersOf(c).includes(s))).sort();
    const asked = new Set(
      trace.events({ tag: 'RequestVote', host: elected.host, where: (e) => e.body.term === term && !e.body.preVote && trace.hb(e, elected) }).map((e) => e.body.to as string),
    );
    const granted = trace.events({ tag: 'RequestVoteRes', where: (e) => e.body.candidateId === elected.host && e.body.term === term && e.body.voteGranted === true && !e.body.preVote && trace.hb(e, elected) });
    const offenders = peers.filter((p) => !asked.has(p)).map((p) => at(elected, `${describe(elected)} never sent RequestVote to ${p} in term ${term}`));
    if (granted.length < grants) offenders.push(at(elected, `${describe(elected)} had ${granted.length} granted votes before winning term ${term}; expected ${grants}`));
    return result('new-leader-canvassed-all', offenders, { note: `${elected.host} won term ${term}: asked ${asked.size} peers, ${granted.length} granted` });
  };
}

/** Scenarios 6 and 9: the client reconnected at least once after its first connection. */
export function clientFailedOver(clientId: string): Rule {
  return function clientFailedOver(trace) {
    const conns = trace.events({ tag: 'NewServerConnection', host: clientId });
    const offenders = conns.length >= 2 ? [] : [nowhere(clientId, `${clientId} logged ${conns.length} NewServerConnection; a failover needs at least 2`)];
    return result('client-failed-over', offenders, { note: `${conns.length} connections: ${conns.map((c) => c.body.serverId).join(' -> ')}` });
  };
}

/** Scenario 12: nothing the cut-off leader logged for `clientId` was ever applied. */
export function neverApplied(clientId: string): Rule {
  return function staleEntriesNeverApplied(trace) {
    const applied = trace.events({ tag: 'Apply', where: (e) => e.traceId.startsWith(`${clientId}:`) && !e.body.duplicate });
    const logged = trace.events({ tag: 'RaftPutReq', where: (e) => e.traceId.startsWith(`${clientId}:`) });
    const offenders = applied.map((e) => at(e, `${describe(e)} applied index ${String(e.body.index)}, an entry that was never committed`));
    return result('stale-entries-never-applied', offenders, { note: `${logged.length} entries logged by the cut-off leader, ${applied.length} applied` });
  };
}

/**
 * Scenario 15: some leader sent InstallSnapshot, and the follower that received it
 * recorded SnapshotRestored at that index and then answered success (Raft §7).
 */
export function installedSnapshot(): Rule {
  return function installedSnapshot(trace) {
    const recvs = trace.events({ tag: 'InstallSnapshotRecv' });
    if (recvs.length === 0) return result('installed-snapshot', [nowhere('-', 'no InstallSnapshotRecv in the trace: no follower was sent a snapshot')]);
    const restored = recvs.filter((r) => trace.events({ tag: 'SnapshotRestored', host: r.host, where: (e) => e.body.index === r.body.index && trace.hb(r, e) }).length > 0);
    const answered = restored.filter((r) => trace.events({ tag: 'InstallSnapshotRes', host: r.host, where: (e) => e.body.index === r.body.index && e.body.success === true && trace.hb(r, e) }).length > 0);
    const offenders = answered.length > 0 ? [] : recvs.slice(0, 3).map((r) => at(r, `${describe(r)} of index ${String(r.body.index)} was not followed by SnapshotRestored and a successful InstallSnapshotRes on ${r.host}`));
    return result('installed-snapshot', offenders, { note: `${recvs.length} InstallSnapshot received, ${answered.length} restored and acknowledged (${[...new Set(answered.map((r) => r.host))].join(', ')})` });
  };
}

/**
 * Scenarios 17 and 18: the configuration the run ended with (the ConfChangeCommitted of
 * the highest index) has `voters` voters, no learner left behind, and is not joint.
 */
export function finalConfiguration(voters: number): Rule {
  return function finalConfiguration(trace) {
    const commits = trace.events({ tag: 'ConfChangeCommitted' }).sort((a, b) => Number(b.body.index) - Number(a.body.index));
    const last = commits[0];
    if (!last) return result('final-configuration', [nowhere('-', 'no ConfChangeCommitted in the trace: the membership never changed')]);
    const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
    const [inForce, outgoing, learners] = [list(last.body.voters), list(last.body.votersOutgoing), list(last.body.learners)];
    const offenders = [];
    if (inForce.length !== voters) offenders.push(at(last, `the last configuration (index ${String(last.body.index)}) has ${inForce.length} voters {${inForce.join(',')}}; expected ${voters}`));
    if (outgoing.length > 0) offenders.push(at(last, `the last configuration (index ${String(last.body.index)}) is still joint (C_old {${outgoing.join(',')}})`));
    if (learners.length > 0) offenders.push(at(last, `learners left in the last configuration: ${learners.join(', ')}`));
    return result('final-configuration', offenders, { note: `${commits.length} configuration commits; last at index ${String(last.body.index)}: voters {${inForce.join(',')}}` });
  };
}
