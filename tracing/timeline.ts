import { appendFileSync } from 'node:fs';

/**
 * Where a put's time goes, across processes: with RAFTKV_TIMELINE=<dir> in its
 * environment, a process appends `<ns> <step> <index>` lines to <dir>/<pid>.txt at the
 * steps of a write's path (client send and reply, the leader's request, proposal, Readies,
 * saves, acknowledgements). The times are CLOCK_MONOTONIC (process.hrtime), one clock for
 * every process on the machine, so bench/latency-breakdown.ts can line the steps of one
 * entry up across the client, the leader and a follower. Without the variable a mark
 * costs one comparison. A timing aid beside the trace (issue 18): the trace records what
 * happened and in what causal order, this only when, on one machine.
 */

/** The steps marked, in the order one put passes them. */
export type TimelineStep =
  /** kvslib hands a write to its session stream; and gets its successful reply. */
  | 'client.send'
  | 'client.reply'
  /** The leader's KV service takes the request; and has the applied result (its reply follows). */
  | 'leader.request'
  | 'leader.applied'
  /** The leader proposed a batch ending at `index`. */
  | 'leader.propose'
  /** A Ready starts, with new entries up to `index` (0: none) or, `.commit`, committed entries up to it. */
  | 'leader.ready'
  | 'leader.ready.commit'
  | 'follower.ready'
  /** A Ready's save resolved (fsynced): entries up to `index`. */
  | 'leader.saved'
  | 'follower.saved'
  /** A follower sent the acknowledgements its Ready held back until the save. */
  | 'follower.ack'
  /** A follower stepped an AppendEntries with entries up to `index`; the leader, a success up to `index`. */
  | 'follower.append'
  | 'leader.ackRecv';

/** Read at the first mark, so a tool may set the variable after its imports ran. */
let dir: string | null | undefined;
let buffer: string[] | null = null;

/** Marks `step` now (for entry `index`, where it has one). */
export function mark(step: TimelineStep, index = 0): void {
  if (dir === undefined) dir = process.env.RAFTKV_TIMELINE || null;
  if (dir === null) return;
  buffer ??= startBuffer();
  buffer.push(`${process.hrtime.bigint()} ${step} ${index}\n`);
}

/**
 * Writes out the marks held so far (they go every 500 ms and at exit on their own): for a
 * tool that reads the timeline in the same process that marked.
 */
export function flushTimeline(): void {
  if (!buffer || buffer.length === 0 || !dir) return;
  const text = buffer.splice(0).join('');
  try {
    appendFileSync(`${dir}/${process.pid}.txt`, text);
  } catch {
    // The directory is gone (the tool that made it has read it and removed it): the marks
    // have no reader left, and a timeline must never fail the process it watches.
  }
}

/** Lines go out every 500 ms and at exit: a write per mark would be the time it measures. */
function startBuffer(): string[] {
  setInterval(flushTimeline, 500).unref();
  process.on('exit', flushTimeline);
  return [];
}
