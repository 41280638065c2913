import type { Entry, HardState } from '../raft/types.ts';

export interface SaveRequest {
  hardState: HardState | null;
  entries: Entry[];
}

/** What a batch of saves leaves to write: the log from `from` onward, and the newest hard state. */
interface BatchWrite {
  from: number;
  entries: Entry[];
  hardState: HardState | null;
}

/**
 * Reduces a batch of saves, in call order, to one write per datafile. A later save
 * replaces everything from its first index, earlier saves of the batch included, so
 * entries it overwrites never reach the disk and the batch costs one append each.
 */
export function mergeSaves(saves: SaveRequest[]): BatchWrite {
  let from = Infinity;
  let entries: Entry[] = [];
  let hardState: HardState | null = null;
  for (const save of saves) {
    hardState = save.hardState ?? hardState;
    const first = save.entries[0];
    if (first === undefined) continue;
    if (first.index < from) {
      from = first.index;
      entries = [];
    } else {
      entries.length = first.index - from;
    }
    for (const entry of save.entries) entries.push(entry);
  }
  return { from, entries, hardState };
}
