import type { HistoryEntry } from '../../tracing/history.ts';

/** An acknowledged write that the final state does not hold and nothing could have overwritten. */
export interface LostWrite {
  key: string;
  entry: HistoryEntry;
  /** The value it wrote (an incr: the value it returned). */
  wrote: string;
  /** What the final read returned. */
  finalValue: string;
}

/**
 * Acknowledged writes lost, judged against the final read of each key: a write is lost
 * when it was acknowledged, the final value is not its value, and no other write to that
 * key (acknowledged or of unknown outcome: that one may take effect any time after its
 * call) could have taken effect after it, i.e. every other one returned before it was
 * called. Sound (a write it names is lost for certain), not complete: the linearizability
 * check covers the rest. `finals` maps each key to its final value ('' when absent).
 */
export function lostWrites(history: readonly HistoryEntry[], finals: ReadonlyMap<string, string>): LostWrite[] {
  const writes = new Map<string, { entry: HistoryEntry; wrote: string | null; ret: number }[]>();
  for (const h of history) {
    if (h.failed) continue;
    const acked = h.error === undefined;
    const ret = acked ? h.return : Infinity;
    const add = (key: string, wrote: string | null) => {
      const list = writes.get(key) ?? [];
      list.push({ entry: h, wrote: acked ? wrote : null, ret });
      writes.set(key, list);
    };
    if (h.op.type === 'put') add(h.op.key, h.op.value);
    else if (h.op.type === 'mput') for (const p of h.op.pairs) add(p.key, p.value);
    else if (h.op.type === 'incr') add(h.op.key, h.output?.value ?? null);
    else if (h.op.type === 'delete') add(h.op.key, '');
  }
  const lost: LostWrite[] = [];
  for (const [key, list] of writes) {
    const finalValue = finals.get(key);
    if (finalValue === undefined) continue;
    for (const w of list) {
      if (w.wrote === null || w.wrote === finalValue) continue;
      const overwritable = list.some((x) => x !== w && x.ret > w.entry.call);
      if (!overwritable) lost.push({ key, entry: w.entry, wrote: w.wrote, finalValue });
    }
  }
  return lost;
}
