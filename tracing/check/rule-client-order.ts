import { at, describe, nowhere, result, type Offender, type RuleResult, type Trace } from './trace.ts';

/**
 * docs/TRACING.md rule 4: per client, OpIds strictly increase in the order of its Start events
 * (its own clock), each Start's trace id is "<client>:<opId>", and every ResultRecvd carries
 * the OpId (and client) of its trace id's Start. From history.json: per client, a larger
 * OpId was never called earlier. An OpId repeated in a later life of the client is a retry
 * (`raftkv retry --client-id`), as is a history entry repeated after an error.
 */
export function clientOrderRule(trace: Trace): RuleResult {
  const offenders: Offender[] = [];
  const startOf = new Map<string, { opId: unknown; clientId: unknown }>();
  for (const host of trace.clientHosts()) {
    let last: ReturnType<Trace['hostEvents']>[number] | null = null;
    for (const e of trace.hostEvents(host)) {
      if (e.tag !== 'GetStart' && e.tag !== 'PutStart') continue;
      const opId = e.body.opId;
      if (typeof opId !== 'number' || !Number.isInteger(opId)) offenders.push(at(e, `${e.tag} without an integer opId`));
      if (e.body.clientId !== host) offenders.push(at(e, `${e.tag} on ${host} names client ${String(e.body.clientId)}`));
      if (e.traceId !== `${host}:${String(opId)}`) offenders.push(at(e, `${e.tag} of opId ${String(opId)} has trace id "${e.traceId}"`));
      // The same OpId again in a later life is `raftkv retry --client-id` (operation-order checks the attempts).
      const retry = last !== null && last.body.opId === opId && trace.laterLife(last, e);
      if (last && !retry && !((last.body.opId as number) < (opId as number))) {
        offenders.push(at(e, `opId ${String(opId)} started after opId ${String(last.body.opId)} (${describe(last)})`));
      }
      last = e;
      startOf.set(e.traceId, { opId, clientId: e.body.clientId });
    }
  }
  for (const e of trace.events({ tag: ['GetResultRecvd', 'PutResultRecvd'] })) {
    const start = startOf.get(e.traceId);
    if (!start) continue; // operation-order reports a result without a Start
    if (e.body.opId !== start.opId || e.body.clientId !== start.clientId) {
      offenders.push(at(e, `${e.tag} of ${e.traceId} carries ${String(e.body.clientId)}:${String(e.body.opId)}, its Start ${String(start.clientId)}:${String(start.opId)}`));
    }
  }
  const byClient = new Map<string, NonNullable<Trace['history']>>();
  for (const h of trace.history ?? []) byClient.set(h.clientId, [...(byClient.get(h.clientId) ?? []), h]);
  for (const [client, list] of byClient) {
    const sorted = [...list].sort((a, b) => a.opId - b.opId || a.call - b.call);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i].opId === sorted[i - 1].opId) {
        // A retry (raftkv retry): the earlier attempt ended with an error.
        if (sorted[i - 1].error === undefined && sorted[i].error === undefined) offenders.push(nowhere(client, `history.json holds opId ${sorted[i].opId} of ${client} twice`));
      }
      else if (sorted[i].call < sorted[i - 1].call) {
        offenders.push(nowhere(client, `history.json: ${client} called opId ${sorted[i].opId} (at ${sorted[i].call}) before opId ${sorted[i - 1].opId} (at ${sorted[i - 1].call})`));
      }
    }
  }
  return result('client-order', offenders);
}
