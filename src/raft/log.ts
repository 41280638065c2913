import type { Entry, Snapshot, SnapshotMeta } from './types.ts';

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
  /** Last index the log's snapshot covers (0: none); entries up to it are compacted away. */
  readonly snapshotIndex: number;
  /** Term of the entry at snapshotIndex (0: none). */
  readonly snapshotTerm: number;
  /** snapshotIndex + 1: the first index whose entry the log can hand out. */
  firstIndex(): number;
  lastIndex(): number;
  lastTerm(): number;
  term(index: number): number;
  /** Entries lo..hi inclusive (at most `max`); throws below firstIndex(). */
  slice(lo: number, hi: number, max?: number): Entry[];
}

/**
 * The in-memory Raft log and its persistence frontier. The log may start after a
 * snapshot (§7): entries up to `snapshotIndex` are compacted away, and index i lives at
 * entries[i - snapshotIndex - 1]; `snapshotTerm` answers for the term at snapshotIndex
 * (etcd's firstIndex() is snapshotIndex + 1). `stableIndex` is how far the caller has
 * confirmed durable; `unstableFrom` is the first index the next Ready must hand out to
 * persist. Keeping both here (etcd's raftLog with its unstable part) lets a Ready hand
 * out each entry once to persist and once to apply, and only applies what is both
 * committed and durable here. A snapshot installed from a leader waits here, like
 * unstable entries, until a Ready hands it out to persist.
 */
export class RaftLog implements ReadonlyRaftLog {
  /** entries[k] holds index snapshotIndex + 1 + k. */
  private entries: Entry[];
  /** sizes[k] is entrySize(entries[k]), measured once when the entry joins the log. */
  private sizes: number[];
  private snapIndex: number;
  private snapTerm: number;
  /** Highest index known committed (§5.3); never moves back, so committed entries are never truncated. */
  commitIndex: number;
  /** Highest index handed to the caller to apply (or covered by a snapshot handed out). */
  appliedIndex: number;
  /** Highest index the caller confirmed durable (advance()). */
  stableIndex: number;
  private unstableFrom: number;
  /** A snapshot installed from the leader and not yet durable; nothing is applied meanwhile (etcd does the same). */
  private unstableSnapshot: Snapshot | null = null;
  /** Whether unstableSnapshot went out in a Ready (whose advance() makes it durable). */
  private snapshotHandedOut = false;

  /**
   * `persisted` is the log on disk, contiguous; with a `snapshot`, it may start at or
   * below snapshot.index + 1 (a tail kept below the snapshot is dropped here: the log
   * starts after the snapshot). Throws on a gap, or if `persisted` holds an entry at
   * snapshot.index of another term: a log that predates an installed snapshot (the
   * node stopped between writing the snapshot and discarding the log) is for the
   * storage to discard when it loads. `entrySize` is what maxSizePerMsg and the
   * in-flight bytes count (sliceForMessage).
   */
  constructor(
    persisted: Entry[],
    commitIndex: number,
    appliedIndex: number,
    snapshot: SnapshotMeta = { index: 0, term: 0 },
    private readonly entrySize: EntrySize = estimateEntrySize,
  ) {
    const first = persisted[0]?.index ?? snapshot.index + 1;
    persisted.forEach((e, i) => {
      if (e.index !== first + i) throw new Error(`persisted log is not contiguous at position ${i}: index ${e.index}`);
    });
    if (first < 1 || first > snapshot.index + 1) throw new Error(`persisted log starts at ${first}, past the snapshot at ${snapshot.index}`);
    const atSnapshot = persisted[snapshot.index - first];
    if (snapshot.index > 0 && atSnapshot && atSnapshot.term !== snapshot.term) {
      throw new Error(`persisted entry ${snapshot.index} has term ${atSnapshot.term} but the snapshot there has term ${snapshot.term}`);
    }
    this.snapIndex = snapshot.index;
    this.snapTerm = snapshot.term;
    this.entries = persisted.filter((e) => e.index > snapshot.index).map((e) => ({ ...e }));
    this.sizes = this.entries.map((e) => entrySize(e));
    this.stableIndex = this.lastIndex();
    this.unstableFrom = this.stableIndex + 1;
    // An applied entry was committed, even if the commit index on disk lagged behind it;
    // so was everything a snapshot covers, which the caller's state machine holds.
    this.commitIndex = Math.min(Math.max(commitIndex, appliedIndex, snapshot.index), this.lastIndex());
    this.appliedIndex = Math.min(Math.max(appliedIndex, snapshot.index), this.commitIndex);
  }

  get snapshotIndex(): number {
    return this.snapIndex;
  }

  get snapshotTerm(): number {
    return this.snapTerm;
  }

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.snapIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /**
   * Term of the entry at `index`: the snapshot's term at snapshotIndex, 0 for index 0 and
   * for indexes past the end. Throws below snapshotIndex: that term is compacted away,
   * and no answer would be safe (check firstIndex() first).
   */
  term(index: number): number {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex) throw new Error(`term of index ${index} is compacted (the log starts after snapshot ${this.snapIndex})`);
    if (index > this.lastIndex()) return 0;
    return this.entries[index - this.snapIndex - 1].term;
  }

  /** Whether the log holds the entry `index`/`term` (counting the snapshot's last one). */
  matchTerm(index: number, term: number): boolean {
    return index >= this.snapIndex && index <= this.lastIndex() && this.term(index) === term;
  }

  /**
   * Entries lo..hi inclusive, at most `max` of them; [] when lo > hi or past the end.
   * Throws when lo is below firstIndex(): those entries are compacted away, and the
   * caller must send a snapshot instead.
   */
  slice(lo: number, hi: number, max = Infinity): Entry[] {
    if (lo <= this.snapIndex) throw new Error(`entries from ${lo} are compacted (the log starts at ${this.firstIndex()})`);
    const end = Math.min(hi, lo + max - 1, this.lastIndex());
    return lo > end ? [] : this.entries.slice(lo - this.snapIndex - 1, end - this.snapIndex);
  }

  /**
   * What one AppendEntries starting at `lo` carries: entries while they number at most
   * `maxCount` and their sizes add up to at most `maxBytes`, but always the first one
   * (etcd's MaxSizePerMsg: an entry bigger than the limit travels alone). [] past the end.
   * Throws when lo is below firstIndex(), as slice() does: send a snapshot instead.
   */
  sliceForMessage(lo: number, maxCount: number, maxBytes: number): { entries: Entry[]; bytes: number } {
    if (lo <= this.snapIndex) throw new Error(`entries from ${lo} are compacted (the log starts at ${this.firstIndex()})`);
    const start = lo - this.snapIndex - 1; // position of index lo in entries
    const end = Math.min(this.entries.length, start + maxCount); // exclusive
    let bytes = 0;
    let k = start;
    while (k < end) {
      const size = this.sizes[k];
      if (k > start && bytes + size > maxBytes) break;
      bytes += size;
      k++;
    }
    return { entries: this.entries.slice(start, k), bytes };
  }

  /** Raft's up-to-date rule (§5.4.1): compare last terms, then lengths. */
  isUpToDate(lastLogIndex: number, lastLogTerm: number): boolean {
    return lastLogTerm > this.lastTerm() || (lastLogTerm === this.lastTerm() && lastLogIndex >= this.lastIndex());
  }

  /** Appends after the last entry; throws on a gap or overlap (a bug in the caller). */
  append(entries: Entry[]): void {
    for (const e of entries) {
      if (e.index !== this.lastIndex() + 1) throw new Error(`append at ${e.index} but last index is ${this.lastIndex()}`);
      this.entries.push(e);
      this.sizes.push(this.entrySize(e));
    }
  }

  /**
   * Merges a leader's entries that follow a matching prevLogIndex (Figure 2,
   * AppendEntries rules 3-4): identical entries are skipped, so a delayed duplicate
   * cannot cut off what a newer message appended; the first conflicting one truncates
   * the suffix. Entries the snapshot covers are skipped: they are committed, so they
   * match (§5.4). Throws rather than truncate a committed entry (Leader Completeness).
   * Returns the first index written (everything from there on is new, and whatever the
   * log held there before is gone), or 0 when every entry was already there: the caller
   * re-reads the configuration from there (a truncated config entry is undone).
   */
  mergeFromLeader(entries: Entry[]): number {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[k];
      if (e.index <= this.snapIndex) continue;
      if (e.index > this.lastIndex()) {
        this.append(entries.slice(k));
        return e.index;
      }
      if (this.term(e.index) !== e.term) {
        this.truncateFrom(e.index);
        this.append(entries.slice(k));
        return e.index;
      }
    }
    return 0;
  }

  private truncateFrom(index: number): void {
    if (index <= this.commitIndex) {
      throw new Error(`refusing to truncate committed entry ${index} (commitIndex ${this.commitIndex})`);
    }
    this.entries.length = index - this.snapIndex - 1;
    this.sizes.length = index - this.snapIndex - 1;
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

  /**
   * The last index holding `term`, or 0 when the log has no entry of that term (the
   * leader's side of the hint); the search stops at the snapshot.
   */
  lastIndexOfTerm(term: number): number {
    for (let i = this.lastIndex(); i >= this.snapIndex && i > 0; i--) {
      const t = this.term(i);
      if (t === term) return i;
      if (t < term) return 0;
    }
    return 0;
  }

  /**
   * Drops the entries up to `index` (log compaction, §7): the caller's durable snapshot
   * covers them. `index` must be applied (so committed and durable). A no-op at or below
   * the current snapshotIndex.
   */
  compact(index: number): void {
    if (index <= this.snapIndex) return;
    if (index > this.appliedIndex) throw new Error(`cannot compact to ${index}: only ${this.appliedIndex} is applied`);
    this.snapTerm = this.term(index);
    this.entries = this.entries.slice(index - this.snapIndex);
    this.sizes = this.sizes.slice(index - this.snapIndex);
    this.snapIndex = index;
  }

  /**
   * Installs a leader's snapshot in place of the whole log (§7, InstallSnapshot steps
   * 7-8): for a snapshot past the commit index whose last entry this log does not hold.
   * Everything up to its index is committed and, once the caller restores it, applied.
   */
  restore(snapshot: Snapshot): void {
    if (snapshot.index <= this.commitIndex) throw new Error(`snapshot ${snapshot.index} is not past the commit index ${this.commitIndex}`);
    this.entries = [];
    this.sizes = [];
    this.snapIndex = snapshot.index;
    this.snapTerm = snapshot.term;
    this.commitIndex = snapshot.index;
    this.appliedIndex = snapshot.index;
    // Until the snapshot is durable, nothing past what the disk held before counts as stable.
    this.stableIndex = Math.min(this.stableIndex, snapshot.index);
    this.unstableFrom = snapshot.index + 1;
    this.unstableSnapshot = snapshot;
    this.snapshotHandedOut = false;
  }

  /** The installed snapshot not yet handed out for persistence; marks it handed out. */
  takeUnstableSnapshot(): Snapshot | null {
    if (!this.unstableSnapshot || this.snapshotHandedOut) return null;
    this.snapshotHandedOut = true;
    return this.unstableSnapshot;
  }

  hasUnstableSnapshot(): boolean {
    return this.unstableSnapshot !== null && !this.snapshotHandedOut;
  }

  /** The caller made `snapshot` durable (one Ready's snapshot). */
  stableSnapTo(snapshot: Snapshot): void {
    this.stableIndex = Math.max(this.stableIndex, Math.min(snapshot.index, this.snapIndex));
    // A newer snapshot installed while this one was written is still to persist.
    if (this.unstableSnapshot === snapshot) {
      this.unstableSnapshot = null;
      this.snapshotHandedOut = false;
    }
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
    // A snapshot installed meanwhile replaced the entries at or below its index.
    for (let k = written.length - 1; k >= 0; k--) {
      const e = written[k];
      if (e.index <= this.snapIndex) return;
      if (this.term(e.index) === e.term) {
        this.stableIndex = Math.max(this.stableIndex, e.index);
        return;
      }
    }
  }

  /**
   * Committed, persisted entries not yet handed out to apply; marks them handed out.
   * None while an installed snapshot is not yet durable: they follow it.
   */
  takeCommitted(): Entry[] {
    if (this.unstableSnapshot) return [];
    const hi = Math.min(this.commitIndex, this.stableIndex);
    if (hi <= this.appliedIndex) return [];
    const out = this.slice(this.appliedIndex + 1, hi);
    this.appliedIndex = hi;
    return out;
  }

  hasUnstable(): boolean {
    return this.unstableFrom <= this.lastIndex();
  }

  hasCommittedToApply(): boolean {
    return !this.unstableSnapshot && Math.min(this.commitIndex, this.stableIndex) > this.appliedIndex;
  }
}
