import type { Entry } from './types.ts';

/** How many bytes an entry costs on the caller's wire and disk; the core never encodes. */
export type EntrySize = (e: Entry) => number;

/**
 * The default size: data and trace id in UTF-16 code units, plus 16 for index, term and
 * kind. An estimate for callers that do not encode entries (tests, the simulator); a
 * driver that sends entries over a wire passes the encoded size instead.
 */
export const estimateEntrySize: EntrySize = (e) => e.data.length + (e.traceId?.length ?? 0) + 16;

/** What the outside may read of a node's log (Raft.log): queries only. */
export interface ReadonlyRaftLog {
  readonly commitIndex: number;
  readonly appliedIndex: number;
  lastIndex(): number;
  lastTerm(): number;
  term(index: number): number;
}

/**
 * The in-memory Raft log and its persistence frontier. Index i lives at entries[i - 1]
 * (no snapshots yet, so the log starts at index 1). `stableIndex` is how far the caller
 * has confirmed durable; `unstableFrom` is the first index the next Ready must hand out
 * to persist. Keeping both here (etcd's raftLog with its unstable part) lets a Ready
 * hand out each entry once to persist and once to apply, and only applies what is
 * both committed and durable here.
 */
export class RaftLog implements ReadonlyRaftLog {
  private readonly entries: Entry[];
  /** sizes[i] is entrySize(entries[i]), measured once when the entry joins the log. */
  private readonly sizes: number[];
  /** Highest index known committed (§5.3); never moves back, so committed entries are never truncated. */
  commitIndex: number;
  /** Highest index handed to the caller to apply. */
  appliedIndex: number;
  /** Highest index the caller confirmed durable (advance()). */
  stableIndex: number;
  private unstableFrom: number;

  /** Throws if `persisted` is not contiguous from index 1. */
  constructor(
    persisted: Entry[],
    commitIndex: number,
    appliedIndex: number,
    private readonly entrySize: EntrySize = estimateEntrySize,
  ) {
    this.entries = persisted.map((e) => ({ ...e }));
    this.sizes = this.entries.map((e) => entrySize(e));
    this.entries.forEach((e, i) => {
      if (e.index !== i + 1) throw new Error(`persisted log is not contiguous at position ${i}: index ${e.index}`);
    });
    this.stableIndex = this.entries.length;
    this.unstableFrom = this.stableIndex + 1;
    // An applied entry was committed, even if the commit index on disk lagged behind it.
    this.commitIndex = Math.min(Math.max(commitIndex, appliedIndex), this.lastIndex());
    this.appliedIndex = Math.min(appliedIndex, this.commitIndex);
  }

  lastIndex(): number {
    return this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term of the entry at `index`; 0 for index 0 and for indexes past the end. */
  term(index: number): number {
    if (index <= 0 || index > this.entries.length) return 0;
    return this.entries[index - 1].term;
  }

  /** Entries lo..hi inclusive, at most `max` of them; [] when lo > hi or past the end. */
  slice(lo: number, hi: number, max = Infinity): Entry[] {
    const end = Math.min(hi, lo + max - 1, this.entries.length);
    return lo > end ? [] : this.entries.slice(lo - 1, end);
  }

  /**
   * What one AppendEntries starting at `lo` carries: entries while they number at most
   * `maxCount` and their sizes add up to at most `maxBytes`, but always the first one
   * (etcd's MaxSizePerMsg: an entry bigger than the limit travels alone). [] past the end.
   */
  sliceForMessage(lo: number, maxCount: number, maxBytes: number): { entries: Entry[]; bytes: number } {
    let bytes = 0;
    let hi = lo - 1;
    const end = Math.min(this.entries.length, lo + maxCount - 1);
    while (hi < end) {
      const size = this.sizes[hi]; // the entry at index hi + 1
      if (hi >= lo && bytes + size > maxBytes) break;
      bytes += size;
      hi++;
    }
    return { entries: lo > hi ? [] : this.entries.slice(lo - 1, hi), bytes };
  }

  /** Raft's up-to-date rule (§5.4.1): compare last terms, then lengths. */
  isUpToDate(lastLogIndex: number, lastLogTerm: number): boolean {
    return lastLogTerm > this.lastTerm() || (lastLogTerm === this.lastTerm() && lastLogIndex >= this.lastIndex());
  }

  /** Appends after the last entry; throws on a gap or overlap (a bug in the caller). */
  append(entries: Entry[]): void {
    for (const e of entries) {
      if (e.index !== this.entries.length + 1) throw new Error(`append at ${e.index} but last index is ${this.lastIndex()}`);
      this.entries.push(e);
      this.sizes.push(this.entrySize(e));
    }
  }

  /**
   * Merges a leader's entries that follow a matching prevLogIndex (Figure 2,
   * AppendEntries rules 3-4): identical entries are skipped, so a delayed duplicate
   * cannot cut off what a newer message appended; the first conflicting one truncates
   * the suffix. Throws rather than truncate a committed entry (Leader Completeness, §5.4).
   */
  mergeFromLeader(entries: Entry[]): void {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      if (e.index > this.lastIndex()) {
        this.append(entries.slice(k));
        return;
      }
      if (this.term(e.index) !== e.term) {
        this.truncateFrom(e.index);
        this.append(entries.slice(k));
        return;
      }
    }
  }

  private truncateFrom(index: number): void {
    if (index <= this.commitIndex) {
      throw new Error(`refusing to truncate committed entry ${index} (commitIndex ${this.commitIndex})`);
    }
    this.entries.length = index - 1;
    this.sizes.length = index - 1;
    this.stableIndex = Math.min(this.stableIndex, index - 1);
    this.unstableFrom = Math.min(this.unstableFrom, index);
  }

  /**
   * The first index of the run of entries with `term` that contains `index`, stopping
   * above the commit index: the conflict hint of fast backtracking (§5.3, end).
   */
  firstIndexOfTerm(index: number): number {
    const term = this.term(index);
    let i = index;
    while (i > this.commitIndex + 1 && this.term(i - 1) === term) i--;
    return i;
  }

  /** The last index holding `term`, or 0 when the log has no entry of that term (the leader's side of the hint). */
  lastIndexOfTerm(term: number): number {
    for (let i = this.lastIndex(); i > 0; i--) {
      const t = this.term(i);
      if (t === term) return i;
      if (t < term) return 0;
    }
    return 0;
  }

  /** Entries not yet handed out for persistence; marks them handed out. */
  takeUnstable(): Entry[] {
    const out = this.slice(this.unstableFrom, this.lastIndex());
    this.unstableFrom = this.lastIndex() + 1;
    return out;
  }

  /** The caller made `written` durable (one Ready's entries, in index order). */
  stableTo(written: Entry[]): void {
    // A truncation while the write was in flight makes its tail stale; the newest entry
    // that still matches proves (by Log Matching) that everything before it does too.
    for (let k = written.length - 1; k >= 0; k--) {
      const e = written[k];
      if (this.term(e.index) === e.term) {
        this.stableIndex = Math.max(this.stableIndex, e.index);
        return;
      }
    }
  }

  /** Committed, persisted entries not yet handed out to apply; marks them handed out. */
  takeCommitted(): Entry[] {
    const hi = Math.min(this.commitIndex, this.stableIndex);
    const out = this.slice(this.appliedIndex + 1, hi);
    this.appliedIndex = Math.max(this.appliedIndex, hi);
    return out;
  }

  hasUnstable(): boolean {
    return this.unstableFrom <= this.lastIndex();
  }

  hasCommittedToApply(): boolean {
    return Math.min(this.commitIndex, this.stableIndex) > this.appliedIndex;
  }
}
