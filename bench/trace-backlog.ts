import * as grpc from '@grpc/grpc-js';
import { unary } from '../src/transport/unary.ts';
import { TraceCollectorService } from '../tracing/proto.ts';
import { sleep } from './workload.ts';

/**
 * Waits until the tracing server at `addr` has taken in everything the processes sent it:
 * its event count stops growing once the load has stopped. Returns how long that took,
 * the backlog a traced row leaves behind (records sent faster than it writes them), so
 * the bench can report what a traced cluster sustains and the next row starts quiet.
 */
export async function waitForTraceBacklog(addr: string, limitMs = 120_000): Promise<number> {
  const client = new TraceCollectorService(addr, grpc.credentials.createInsecure());
  const t0 = performance.now();
  try {
    let last = -1;
    let steadyPolls = 0;
    while (performance.now() - t0 < limitMs) {
      const { events } = await unary<object, { events: number }>(client, 'Flush', {}, 10_000);
      // Two quiet polls in a row: nothing was queued behind the last answer either.
      steadyPolls = events === last ? steadyPolls + 1 : 0;
      if (steadyPolls >= 2) return Math.max(0, performance.now() - t0 - 2 * POLL_MS);
      last = events;
      await sleep(POLL_MS);
    }
    throw new Error(`the tracing server at ${addr} was still taking in records after ${limitMs} ms`);
  } finally {
    client.close();
  }
}

const POLL_MS = 100;
