/**
 * Records must reach the spool and the tracing server's stream before a token naming
 * them leaves the process; otherwise a kill -9 in between leaves another host's clock
 * pointing at a counter no log holds. Sinks batch records per turn of the event loop,
 * and every transport calls beforeSend() right before it writes to the network, so the
 * batch goes out first: one flush per network write instead of one per token.
 */
const flushers = new Set<() => void>();

/** Registers a sink's flush; returns the function that unregisters it. */
export function onBeforeSend(flush: () => void): () => void {
  flushers.add(flush);
  return () => flushers.delete(flush);
}

export function beforeSend(): void {
  for (const flush of flushers) flush();
}
