import { access, mkdir, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Entry, HardState, Snapshot } from '../raft/types.ts';
import { checkSave, type LogTail } from './check-save.ts';
import { CorruptDatafileError, LostEntriesError } from './corrupt-datafile-error.ts';
import { Datafile } from './datafile.ts';
import type { StorageEvent, StorageEventListener } from './events.ts';
import { fsyncPath } from './fsync-path.ts';
import { decodeLog, entryId, toLogDoc, type DecodedLog } from './log-docs.ts';
import { mergeSaves, type SaveRequest } from './merge-saves.ts';
import { readDatafile, type DatafileContent } from './read-datafile.ts';
import { readSnapshotFile, removeSnapshotTemp, SNAPSHOT_FILE, writeSnapshotFile } from './snapshot-file.ts';
import { decodeState, toStateDoc, type StoredState } from './state-doc.ts';

export interface StorageOptions {
  /** Dead lines a datafile may hold before it is compacted (if also more than its live ones). Default 10,000. */
  compactAfterDeadLines?: number;
  /** Observes appends, fsyncs, resolved batches, compactions, snapshot writes and torn-tail repairs, in order (see StorageEvent). */
  onEvent?: StorageEventListener;
  /**
   * When log.db cannot be trusted (it lost entries this node acknowledged, or a record is
   * damaged), set it aside as `log.db.lost-<time>` and start with an empty log, keeping
   * the term and vote (so the node cannot vote twice in a term) and recording in
   * catchUpIndex how far its log must be refilled before it votes again. A sound
   * snapshot.bin stays: the node then holds everything up to the snapshot's index, and
   * its log starts after it. A damaged snapshot.bin is set aside too (as
   * `snapshot.bin.lost-<time>`), and the log with it, since it may depend on the snapshot.
   * Without this option all of these are refused. state.db must be sound either way.
   * Default false.
   */
  rejoinEmpty?: boolean;
  /** The wall clock in ms, which the incarnation is kept at or above. Default Date.now. */
  now?: () => number;
  /**
   * The watermark (and commit index) written after each batch is fsynced at most once
   * per this many ms: a write within that time of the last state.db fsync waits for the
   * next one, at most this long (a new term or vote is always fsynced at once, and with
   * it every earlier write). At a few hundred batches a second, one state.db fsync per
   * batch contended with the log fsyncs on the critical path, on this node and its
   * peers sharing a disk. Default WATERMARK_SYNC_MS (25); 0 fsyncs every write.
   */
  watermarkSyncMs?: number;
}

/** StorageOptions.watermarkSyncMs's default, in ms: one default Raft tick. */
export const WATERMARK_SYNC_MS = 25;

/** What open() did with --rejoin-empty (rejoinEmpty): null when the log was sound and kept. */
export interface RejoinReport {
  /** The refusal a start without rejoinEmpty would have given. */
  reason: string;
  /** Where the old log.db is now. */
  movedTo: string;
  /** Where a damaged snapshot.bin is now; null when the snapshot was kept (or there was none). */
  snapshotMovedTo: string | null;
  /**
   * The node grants no vote until its log reaches this index again: what it had
   * acknowledged, or 0 when a kept snapshot already covers all of that.
   */
  catchUpIndex: number;
}

/** What open() found on disk (initialState()). */
export interface InitialState {
  /** The saved hard state; commitIndex is at least the snapshot's index (a snapshot holds only committed entries). */
  hardState: HardState;
  /** The log after the snapshot, in index order, contiguous from snapshot.index + 1 (from 1 without a snapshot). */
  entries: Entry[];
  /** The latest durable snapshot, or null. */
  snapshot: Snapshot | null;
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

interface SaveOp extends SaveRequest, Pending {
  kind: 'save';
}

/** A save with a snapshot installed from the leader: see install(). */
interface InstallOp extends SaveRequest, Pending {
  kind: 'install';
  snapshot: Snapshot;
  /** Resolved once the watermark is low enough for the snapshot file to be replaced. */
  ready: Deferred;
  /** The snapshot file's write, on the snapshot lane, after `ready`. */
  written: Promise<void>;
}

interface CompactOp extends Pending {
  kind: 'compact';
  index: number;
  /** Every snapshot write issued before compactLog() was called. */
  covering: Promise<void>;
}

type Op = SaveOp | InstallOp | CompactOp;

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The Raft log, hard state and snapshot, durable: entries in `log.db` and hard state in
 * `state.db` (NeDB datafiles), the latest snapshot in `snapshot.bin` (Raft §7). save()
 * resolves only once its writes are fsynced; saves that arrive while a batch is being
 * written wait and go together in the next one (group commit).
 *
 * Every record carries a CRC-32, checked on load. state.db also holds the log's
 * acknowledged watermark (StoredState.stableIndex): each batch writes and fsyncs the
 * log (and, beside it, a new term or vote: one fsync of latency), resolves, and then
 * writes the watermark with the hard state, so the watermark never covers what the log
 * does not hold durably, and trails what was acknowledged by one state.db write, fsynced
 * within watermarkSyncMs (25 ms) of the one before (etcd's WAL, too, acknowledges on the
 * log's own fsync). A log that loads shorter than its watermark lost acknowledged
 * entries and is refused (LostEntriesError), while a torn last line, which only an
 * append that never completed can leave, is cut off as before. Entries acknowledged in
 * the last moments before a crash (up to watermarkSyncMs and an fsync) are fsynced in
 * log.db but may not be under the durable watermark yet: only a loss of those from a
 * file already fsynced goes unnoticed. The watermark write of one batch overlaps the log
 * write of the next, and its fsyncs are spaced out so that they seldom compete with the
 * log's (here and on peers sharing the disk): it costs neither latency nor throughput.
 *
 * Log compaction (Raft §7; the shape of etcd's Storage and hashicorp/raft's snapshot
 * store): with a snapshot at (S, T) the node holds entries 1..S through the snapshot and
 * the rest in log.db, so the watermark counts max(S, the log's last index); log.db may
 * also keep a tail at or below S (compactLog below the snapshot's index), which load
 * ignores. Two lanes of work, each in call order:
 *
 * - the log lane: save() (with or without an installed snapshot) and compactLog();
 * - the snapshot lane: snapshot file writes, by saveSnapshot() and by installs, so a
 *   large snapshot this node takes does not hold up the log's appends. An install's
 *   write waits for its turn in the log lane (see install()), a compactLog() for every
 *   snapshot write issued before it.
 *
 * **How load treats log.db against snapshot.bin** (decodeLog, then the watermark):
 * - entries below S are dropped (a compaction that stopped part-way leaves them);
 * - if the log holds entry S with term T, the entries after S are kept;
 * - if it holds S with another term, or ends below S, it does not connect to the
 *   snapshot: it is a follower's log from before an install that stopped between writing
 *   the snapshot and discarding the log, and it is discarded, as long as the watermark
 *   is at most S. That is always so after such a crash: an install lowers the watermark
 *   to S before the snapshot file is written (the log it replaces holds nothing past S
 *   that can commit, since the core installs only over a log without (S, T)). A
 *   watermark past S beside a log that does not connect means damage: a log cut below S
 *   is refused as LostEntriesError (S+1..watermark), one contradicting the snapshot's
 *   term as CorruptDatafileError; rejoinEmpty sets the log aside and keeps the snapshot;
 * - a log whose first entry after S is past S + 1 is a gap: refused (LostEntriesError);
 * - a damaged snapshot.bin (header or data CRC, length) is refused, never ignored: it
 *   may hold the only copy of compacted entries.
 */
export class RaftStorage {
  /** The log as the operations issued so far leave it, durable or not. */
  private tail: LogTail;
  /** First index of the log as issued operations leave it (firstIndex()). */
  private issuedFirstIndex: number;
  /**
   * The entries log.db holds on disk, logFirst..logLast (logLast = logFirst - 1 when it
   * holds none): every batch but the one being written is fsynced.
   */
  private logFirst: number;
  private logLast: number;
  /** The latest durable snapshot (its file renamed into place and the directory fsynced). */
  private snapshot: Snapshot | null;
  /** state.db as last written (or being written); its watermark never exceeds durableLastIndex(). */
  private written: StoredState;
  private queue: Op[] = [];
  private flushing: Promise<void> | null = null;
  /**
   * state.db writes that follow resolved batches (watermark, commitIndex), settling when
   * durable or failed: the next batch's log write does not wait for them, installs and
   * compactions do.
   */
  private readonly stateWrites = new Set<Promise<void>>();
  /** When state.db's last fsync was issued (performance.now(), ms). */
  private stateSyncedAt = -Infinity;
  /** A watermark write is not fsynced yet; `stateSyncTimer` will. */
  private stateUnsynced = false;
  private stateSyncTimer: NodeJS.Timeout | null = null;
  /** The last snapshot write issued; settles (never rejects) when it ends. */
  private snapshotLane: Promise<void> = Promise.resolve();
  /** Set by the first failed write or fsync: after it, what is on disk is unknown. */
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly log: Datafile,
    private readonly state: Datafile,
    private readonly loaded: InitialState,
    written: StoredState,
    /** What open() did with rejoinEmpty; null when it kept the log. */
    readonly rejoined: RejoinReport | null,
    private readonly emit: (event: StorageEvent) => void,
    private readonly watermarkSyncMs: number,
  ) {
    const { entries, snapshot, hardState } = loaded;
    const last = entries.at(-1);
    const [snapshotIndex, snapshotTerm] = [snapshot?.index ?? 0, snapshot?.term ?? 0];
    this.snapshot = snapshot;
    this.tail = { lastIndex: last?.index ?? snapshotIndex, lastTerm: last?.term ?? snapshotTerm, commitIndex: hardState.commitIndex, snapshotIndex, snapshotTerm };
    this.logFirst = entries[0]?.index ?? snapshotIndex + 1;
    this.logLast = last?.index ?? snapshotIndex;
    this.issuedFirstIndex = this.logFirst;
    this.written = written;
  }

  /**
   * Opens (creating if needed) the store in `dir`; rejects with a CorruptDatafileError if
   * the files cannot be trusted (a damaged snapshot.bin included), a LostEntriesError if
   * log.db lost acknowledged entries or has a gap after the snapshot (unless
   * options.rejoinEmpty). Removes a snapshot temp file an interrupted write left, and
   * drops (rewriting log.db) entries the snapshot covers or a log that does not connect
   * to it (see the class comment). Every open raises the incarnation.
   */
  static async open(dir: string, options: StorageOptions = {}): Promise<RaftStorage> {
    const emit = options.onEvent ?? (() => {});
    await mkdir(dir, { recursive: true });
    // NeDB fsyncs the directory it writes in, not its parent, where a new dir's entry lives.
    await fsyncPath(dirname(resolve(dir)));
    const datafileOptions = { compactAfterDeadLines: options.compactAfterDeadLines ?? 10_000, emit };
    const [logFile, stateFile, snapshotFile] = [join(dir, 'log.db'), join(dir, 'state.db'), join(dir, SNAPSHOT_FILE)];
    // Every file is checked before NeDB loads any: its load rewrites a file, and a refused
    // one must stay as found, for a person to inspect and the next open to name the same line.
    let snapshot: Snapshot | null = null;
    let snapshotProblem: CorruptDatafileError | null = null;
    try {
      snapshot = await readSnapshotFile(snapshotFile);
    } catch (err) {
      if (!(err instanceof CorruptDatafileError)) throw err;
      snapshotProblem = err;
    }
    let logContent = await readDatafile(logFile);
    const stateContent = await readDatafile(stateFile);
    const decoded = decodeState(stateContent.source, stateContent.live);
    // Every node that holds entries or a snapshot has saved a term: without it, the votes it gave are unknown.
    const noHardState = () =>
      new CorruptDatafileError(
        stateContent.source,
        null,
        `holds no hard state while ${logContent.live.size > 0 ? `${logContent.source} holds ${logContent.live.size} entries` : `${snapshotFile} holds a snapshot`}: ` +
          'the term and vote this node promised are lost (was the file deleted?)',
      );
    let stored: StoredState = decoded;
    let log: Pick<DecodedLog, 'entries' | 'dropped'>;
    let rejoined: RejoinReport | null = null;
    try {
      if (snapshotProblem) throw snapshotProblem;
      log = loadLog(logContent, snapshot, stored, stateContent.source, decoded.line);
    } catch (err) {
      const fromSnapshot = err === snapshotProblem;
      if (!options.rejoinEmpty || !(err instanceof CorruptDatafileError) || (err.file !== logContent.source && !fromSnapshot)) throw err;
      if (decoded.line === null && (logContent.live.size > 0 || snapshot !== null || fromSnapshot)) throw noHardState();
      const movedTo = await setAside(logFile, logContent.source);
      const snapshotMovedTo = fromSnapshot ? await setAsideFile(snapshotFile) : null;
      logContent = await readDatafile(logFile);
      log = { entries: [], dropped: [] };
      // What the node had acknowledged, beyond what a kept snapshot already holds.
      const acknowledged = Math.max(stored.stableIndex ?? 0, stored.hardState.commitIndex, stored.catchUpIndex, err instanceof LostEntriesError ? err.missingTo : 0);
      const catchUpIndex = acknowledged > (snapshot?.index ?? 0) ? acknowledged : 0;
      // Term and vote stay: a vote given in this term must not be given again.
      stored = { ...stored, hardState: { ...stored.hardState, commitIndex: 0 }, catchUpIndex };
      rejoined = { reason: err.message, movedTo, snapshotMovedTo, catchUpIndex };
    }
    if (rejoined === null && decoded.line === null && (logContent.live.size > 0 || snapshot !== null)) throw noHardState();
    const snapshotIndex = snapshot?.index ?? 0;
    // A snapshot holds only committed entries: the commit index is at least its index.
    if (stored.hardState.commitIndex < snapshotIndex) stored = { ...stored, hardState: { ...stored.hardState, commitIndex: snapshotIndex } };
    await removeSnapshotTemp(dir);
    const logDatafile = await Datafile.open(logFile, logContent, datafileOptions);
    const state = await Datafile.open(stateFile, stateContent, datafileOptions);
    if (log.dropped.length > 0) {
      // Dropped are exactly the entries up to the highest dropped index (decodeLog).
      const [from, to] = log.dropped.map(Number).reduce(([lo, hi], i) => [Math.min(lo, i), Math.max(hi, i)], [Infinity, 0]);
      await logDatafile.rewriteWithout({ index: { $lte: to } }, () => emit({ type: 'truncate', file: logFile, from, to }));
    }
    // NeDB's load rewrote log.db and fsynced it: all of it is durable now.
    const lastIndex = Math.max(snapshotIndex, log.entries.at(-1)?.index ?? 0);
    const written: StoredState = { ...stored, stableIndex: lastIndex, incarnation: Math.max(stored.incarnation + 1, (options.now ?? Date.now)()) };
    await Promise.all([state.put(toStateDoc(written)), state.sync()]);
    const loaded = { hardState: stored.hardState, entries: log.entries, snapshot };
    return new RaftStorage(dir, logDatafile, state, loaded, written, rejoined, emit, options.watermarkSyncMs ?? WATERMARK_SYNC_MS);
  }

  /**
   * What open() found on disk: the hard state, the latest durable snapshot (or null) and
   * the entries after it, in index order, contiguous from snapshot.index + 1 (from 1
   * without one). Later operations are not reflected.
   */
  initialState(): InitialState {
    return this.loaded;
  }

  /** Grows at every open (the larger of the last one + 1 and the wall clock in ms): RaftConfig.incarnation. */
  get incarnation(): number {
    return this.written.incarnation;
  }

  /** Non-zero after a rejoin as an empty node: RaftConfig.catchUpIndex. */
  get catchUpIndex(): number {
    return this.written.catchUpIndex;
  }

  /**
   * max(snapshot index, last entry's index) once every operation issued so far is applied
   * (durable or not); 0 for an empty store.
   */
  lastIndex(): number {
    return this.tail.lastIndex;
  }

  /** The term of lastIndex(): the last entry's, or the snapshot's when the log holds nothing after it. */
  lastTerm(): number {
    return this.tail.lastTerm;
  }

  /**
   * The first index the log holds once every operation issued so far is applied:
   * 1 without compaction, snapshotIndex + 1 after an install, index + 1 after
   * compactLog(index); lastIndex() + 1 when the log holds no entry.
   */
  firstIndex(): number {
    return this.issuedFirstIndex;
  }

  /**
   * The latest durable snapshot, kept in memory (RaftConfig.latestSnapshot, etcd's
   * Storage.Snapshot()): the one open() loaded, or the last one saveSnapshot() or an
   * installing save() made durable; null when there is none. Its data is shared, not
   * copied: do not modify it.
   */
  latestSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  /** The index of latestSnapshot(), 0 when none. */
  get snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  /**
   * Approximate size of log.db on disk in bytes, for `raftkv status`: counted as appends
   * and rewrites happen, no system call. Grows with the log and shrinks after
   * compactLog() (and NeDB's compactions of dead lines).
   */
  logBytes(): number {
    return this.log.bytes;
  }

  /** Entries log.db holds, which NeDB keeps in memory. O(n): for tests and diagnostics. */
  logEntryCount(): number {
    return this.log.documentCount();
  }

  /**
   * Persists `hardState` (if not null) and `entries`: entries[0].index and everything
   * after it replace what the log held from there. Resolves once the entries and a new
   * term or vote are fsynced; a commitIndex that changed alone is written right after,
   * with the watermark (a leader tells it again, Raft §5; etcd's MustSync), and is
   * durable by the time the next save or close() resolves. Saves apply in call order. Rejects without writing if the save would break the log's invariants
   * (checkSave), e.g. rewriting an entry at or below the snapshot's index.
   *
   * With `snapshot` (Ready.snapshot: one the leader sent and the core installed, §7):
   * the snapshot must be newer than the current one and past the commit index, and
   * `entries` (if any) start at snapshot.index + 1. The watermark is lowered to the
   * snapshot's index if above it, then the snapshot file is written atomically and
   * durably, then the whole log is discarded (log.db rewritten without it), then the
   * entries and the hard state are written, each fsynced before the next step; resolves
   * after all of it. A crash at any step leaves the old state or the new one (see the
   * class comment). The snapshot's data is kept, not copied: do not modify it.
   * Precondition, which the core meets and the store cannot check cheaply: the log does
   * not hold entry snapshot.index with snapshot.term (the core keeps its log then, §7
   * step 6), so nothing it holds past the snapshot is the leader's or can commit, and
   * lowering the watermark over it loses nothing that counted.
   */
  save(hardState: HardState | null, entries: Entry[], snapshot: Snapshot | null = null): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    if (snapshot !== null && !(snapshot.data instanceof Uint8Array)) return Promise.reject(new Error('save rejected: snapshot data is not a Uint8Array'));
    const problem = checkSave(this.tail, hardState, entries, snapshot);
    if (problem !== null) return Promise.reject(new Error(`save rejected: ${problem}`));
    if (snapshot !== null) {
      const { index, term } = snapshot;
      this.tail = { lastIndex: index, lastTerm: term, commitIndex: Math.max(index, this.tail.commitIndex), snapshotIndex: index, snapshotTerm: term };
      this.issuedFirstIndex = index + 1;
    }
    const last = entries.at(-1);
    if (last !== undefined) this.tail = { ...this.tail, lastIndex: last.index, lastTerm: last.term };
    if (hardState !== null) this.tail = { ...this.tail, commitIndex: Math.max(hardState.commitIndex, this.tail.snapshotIndex) };
    // Copies: the caller may reuse its hard state object before the batch is written.
    const request = { hardState: hardState && { ...hardState }, entries: entries.slice() };
    return new Promise((resolve, reject) => {
      if (snapshot === null) return this.enqueue({ kind: 'save', ...request, resolve, reject });
      const ready = deferred();
      const written = this.onSnapshotLane(() => ready.promise.then(() => this.writeSnapshot(snapshot)));
      written.catch(() => {}); // awaited by install(); a failure is reported through the save
      this.enqueue({ kind: 'install', ...request, snapshot, ready, written, resolve, reject });
    });
  }

  /**
   * Makes `snapshot`, one this server took of its own state machine (its data covers
   * entries 1..snapshot.index, whose term is snapshot.term), the durable snapshot:
   * written to a temp file, fsynced, renamed over snapshot.bin, directory fsynced
   * (snapshot-file.ts). The log is untouched: call compactLog() afterwards. Resolves once
   * durable; latestSnapshot() returns it from then on. Runs on the snapshot lane, beside
   * the log's saves rather than behind them, in call order with other snapshot writes.
   *
   * Resolves at once, writing nothing, for a snapshot not newer than the latest one
   * given (by saveSnapshot() or an installing save(), durable or on its way). Rejects a
   * snapshot past the log's last index (it cannot cover entries the log never had) and a
   * malformed one. A failed write fails the store, as a failed save does. The data is
   * kept, not copied: do not modify it.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const { index, term, data } = snapshot;
    if (!Number.isSafeInteger(index) || index < 1 || !Number.isSafeInteger(term) || term < 0 || !(data instanceof Uint8Array)) {
      return Promise.reject(new Error(`saveSnapshot rejected: index ${String(index)}, term ${String(term)} and data are not a snapshot`));
    }
    if (index <= this.tail.snapshotIndex) return Promise.resolve();
    if (index > this.tail.lastIndex) {
      return Promise.reject(new Error(`saveSnapshot rejected: snapshot ${index} is past the log's last index ${this.tail.lastIndex}`));
    }
    this.tail = { ...this.tail, snapshotIndex: index, snapshotTerm: term };
    return this.onSnapshotLane(() => this.writeSnapshot(snapshot));
  }

  /**
   * Log compaction (§7): drops the entries with index <= `index` from log.db and from
   * memory, then NeDB's compaction rewrites log.db with the rest (crash safe: a new file
   * fsynced and renamed over the old, directory fsynced), so the file holds only the
   * remaining entries. `index` may be below the snapshot's index (the driver keeps a tail
   * for followers that lag a little) but not above it: a snapshot must cover what is
   * dropped, else this rejects at once. The snapshot meant is the latest one given to
   * saveSnapshot() or save(); if its write is still under way, the compaction waits for
   * it. Runs in order with saves; resolves once the rewrite is durable. Nothing to drop
   * (index below firstIndex()) resolves without writing.
   */
  compactLog(index: number): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    if (!Number.isSafeInteger(index) || index < 0) return Promise.reject(new Error(`compactLog rejected: ${String(index)} is not an index`));
    if (index > this.tail.snapshotIndex) {
      return Promise.reject(
        new Error(
          `compactLog rejected: entries up to ${index} cannot be dropped, the latest snapshot ${this.tail.snapshotIndex === 0 ? 'does not exist' : `ends at ${this.tail.snapshotIndex}`} (take one covering them first)`,
        ),
      );
    }
    this.issuedFirstIndex = Math.max(this.issuedFirstIndex, index + 1);
    const covering = this.snapshotLane;
    return new Promise((resolve, reject) => this.enqueue({ kind: 'compact', index, covering, resolve, reject }));
  }

  /**
   * Resolves once every save and compaction issued so far has settled and the writes
   * that follow a save's resolution (its watermark and commitIndex) are durable.
   */
  async idle(): Promise<void> {
    await this.flushing;
    if (this.stateUnsynced) this.syncStateNow();
    await Promise.all(this.stateWrites);
  }

  /** Resolves once every operation issued before it has settled; later ones are refused. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
    if (this.stateSyncTimer) clearTimeout(this.stateSyncTimer);
    this.stateSyncTimer = null;
    await this.snapshotLane;
    this.log.close();
    this.state.close();
  }

  private refusal(): Error | null {
    if (this.failure) return this.failure;
    if (this.closed) return new Error(`storage in ${this.dir} is closed`);
    return null;
  }

  private enqueue(op: Op): void {
    this.queue.push(op);
    this.flushing ??= this.flush();
  }

  /** Runs `task` once every snapshot write issued before it has ended; settles as the task does. */
  private onSnapshotLane(task: () => Promise<void>): Promise<void> {
    const run = this.snapshotLane.then(() => {
      if (this.failure) throw this.failure;
      return task();
    });
    this.snapshotLane = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async writeSnapshot(snapshot: Snapshot): Promise<void> {
    try {
      await writeSnapshotFile(this.dir, snapshot, this.emit);
    } catch (err) {
      this.fail(err, []);
      throw this.failure;
    }
    this.snapshot = snapshot;
  }

  /** The last index this node holds on disk: through the durable snapshot, or in log.db. */
  private durableLastIndex(): number {
    return Math.max(this.snapshot?.index ?? 0, this.logLast);
  }

  /**
   * Writes batches one after another: a batch's log write and fsync (with a new term or
   * vote's state.db write beside it), then it resolves, then its watermark's state.db
   * write and fsync, which the next batch's log write overlaps. Batches resolve in order.
   */
  private async flush(): Promise<void> {
    // The first batch starts at once, inside the save() that found the lane idle: its
    // append and fsync are under way before the caller goes on (RaftNode applies committed
    // entries meanwhile). Saves issued while it is on its way go together in the next one.
    // A save issued while the last watermark write is on its way starts its batch at once
    // (a new flush) instead of waiting for that write's fsync.
    while (this.queue.length > 0 && !this.failure) await this.flushQueue(this.stateWrites);
    this.flushing = null;
  }

  private async flushQueue(stateWrites: Set<Promise<void>>): Promise<void> {
    while (this.queue.length > 0 && !this.failure) {
      const head = this.queue[0];
      if (head.kind !== 'save') {
        // Installs and compactions go alone, after every earlier batch has resolved.
        this.queue.shift();
        await Promise.all(stateWrites);
        try {
          if (this.failure) throw this.failure;
          if (head.kind === 'install') await this.install(head);
          else await this.compact(head);
        } catch (err) {
          this.fail(err, [head]);
          break;
        }
        head.resolve();
        continue;
      }
      const next = this.queue.findIndex((op) => op.kind !== 'save');
      const batch = this.queue.splice(0, next === -1 ? this.queue.length : next) as SaveOp[];
      const write = mergeSaves(batch);
      try {
        // The log and a new term or vote are written and fsynced side by side: one fsync
        // of latency, not two (see writeHardState). writeLog issues any lowering of the
        // watermark before the hard state's write is queued behind it.
        const logWritten = this.writeLog(write);
        await Promise.all([logWritten, this.writeHardState(write.hardState)]);
      } catch (err) {
        this.fail(err, batch);
        break;
      }
      if (this.failure) {
        this.rejectAll(batch, this.failure);
        break;
      }
      this.emit({ type: 'resolve', saves: batch.length });
      for (const save of batch) save.resolve();
      // What waited on the batch (an AppendEntries answer, a client's result) runs in the
      // microtasks this turn and its socket writes go at the end of it, before this
      // resumes: the watermark's write (NeDB's update, the append) is not on their path.
      await new Promise<void>((resume) => setImmediate(resume));
      const done: Promise<void> = this.writeState(write).then(
        () => void stateWrites.delete(done),
        (err: unknown) => {
          stateWrites.delete(done);
          this.fail(err, []);
        },
      );
      stateWrites.add(done);
      const liveEntries = Math.max(0, this.logLast - this.logFirst + 1);
      if (this.log.compactionDue(liveEntries) || this.state.compactionDue(1)) {
        // A compaction replaces the file under the append descriptor: nothing may be in flight.
        await Promise.all(stateWrites);
        if (this.failure) break;
        try {
          await this.log.compactIfWorthIt(liveEntries);
          await this.state.compactIfWorthIt(1);
        } catch (err) {
          this.fail(err, []);
          break;
        }
      }
    }
  }

  /**
   * An installing save, step by step; a crash after any step loads as the old state or
   * the new one:
   *
   * 1. If the watermark is past the snapshot's index, lower it to that index (fsynced).
   *    The core installs only over a log that lacks the snapshot's last entry (index and
   *    term), so nothing that log holds past it is the leader's, and none of it can
   *    commit: dropping it loses nothing acknowledged that counts. Lowered first, so
   *    that a crash after step 2 leaves a log that does not connect to the snapshot
   *    beside a watermark that allows discarding it. (Crash here: the old log loads, its
   *    last index is at least the lowered watermark.)
   * 2. Write the snapshot file atomically and durably (on the snapshot lane, after any
   *    snapshot write issued before). (Crash here: the new snapshot and the old log,
   *    which does not connect and is discarded at load.)
   * 3. Discard the whole log: rewrite log.db without it (one atomic rewrite).
   * 4. Write the entries after the snapshot (fsynced), then the hard state and the
   *    watermark (fsynced).
   */
  private async install(op: InstallOp): Promise<void> {
    const { index } = op.snapshot;
    if ((this.written.stableIndex ?? 0) > index) {
      const { hardState } = this.written;
      await this.putState({ ...this.written, hardState: { ...hardState, commitIndex: Math.min(hardState.commitIndex, index) }, stableIndex: index });
    }
    op.ready.resolve();
    await op.written;
    await this.dropLog(this.logLast);
    this.logFirst = index + 1;
    this.logLast = index;
    await this.writeLog({ from: index + 1, entries: op.entries });
    await this.putState({ ...this.written, hardState: op.hardState ?? this.written.hardState, stableIndex: this.durableLastIndex() });
    this.emit({ type: 'resolve', saves: 1 });
  }

  /** compactLog(), at its turn: once the snapshot covering `index` is durable, drop the entries up to it. */
  private async compact(op: CompactOp): Promise<void> {
    await op.covering;
    if (this.failure) throw this.failure;
    const snapshotIndex = this.snapshot?.index ?? 0;
    // compactLog() checked against the snapshot given last, which is durable by now.
    if (op.index > snapshotIndex) throw new Error(`compactLog(${op.index}): the durable snapshot ends at ${snapshotIndex}`);
    await this.dropLog(op.index);
    this.logFirst = Math.max(this.logFirst, op.index + 1);
    this.logLast = Math.max(this.logLast, this.logFirst - 1);
  }

  /** Drops log.db's entries from its first up to `to`, rewriting the file without them (Datafile.rewriteWithout). */
  private async dropLog(to: number): Promise<void> {
    const [from, last] = [this.logFirst, Math.min(to, this.logLast)];
    if (last < from) return;
    // A range query: NeDB matches `$in` against every id listed, quadratic in the entries dropped.
    await this.log.rewriteWithout({ index: { $lte: last } }, (removed) => {
      if (removed !== last - from + 1) throw new Error(`log.db held ${removed} of entries ${from}..${last}`);
      this.emit({ type: 'truncate', file: this.log.path, from, to: last });
    });
  }

  private async writeLog({ from, entries }: { from: number; entries: Entry[] }): Promise<void> {
    if (entries.length === 0) return;
    if (from <= (this.written.stableIndex ?? 0)) {
      // Entries the watermark covers are being replaced (a new leader's log wins): lower
      // it first, durably, so a crash between this write and the next watermark cannot
      // pass for a loss. Rare: only a conflicting suffix is ever replaced.
      await this.putState({ ...this.written, stableIndex: from - 1 });
    }
    const replaced = Array.from({ length: Math.max(0, this.logLast - from + 1) }, (_, i) => entryId(from + i));
    // Appending only (the common case): written and its fsync started at once, NeDB's
    // bookkeeping beside the fsync. Nothing else is queued on log.db here: the lane awaits
    // every write, compaction and rewrite before this one.
    if (replaced.length === 0) await this.log.appendAndSync(entries.map(toLogDoc));
    // Issued back to back, so NeDB's executor runs them in this order and the fsync follows both writes.
    else await Promise.all([this.log.remove(replaced), this.log.insert(entries.map(toLogDoc)), this.log.sync()]);
    this.logLast = from + entries.length - 1;
  }

  /**
   * A batch's new term and vote (null: none), written while its log write is under way
   * and fsynced beside it: the batch resolves once both are durable. The watermark in it
   * is the one already written (it covers only what is durable), and its commitIndex is
   * held to that watermark: a commitIndex never reaches disk before the entries it covers. The whole hard state follows with the watermark (writeState).
   */
  private writeHardState(hardState: HardState | null): Promise<void> {
    const { term, votedFor } = this.written.hardState;
    // A commit index alone need not be durable (Raft §5, etcd's MustSync): it follows with the watermark.
    if (hardState === null || (hardState.term === term && hardState.votedFor === votedFor)) return Promise.resolve();
    // Never past the watermark written with it either (decodeState refuses that).
    const commitIndex = Math.min(hardState.commitIndex, Math.max(this.written.hardState.commitIndex, this.written.stableIndex ?? this.durableLastIndex()));
    return this.putState({ ...this.written, hardState: { ...hardState, commitIndex } });
  }

  /**
   * The hard state and the new watermark, after the batch's log write and the batch's
   * resolution (the watermark trails the acknowledgement by one state.db write, see the
   * class comment): neither a commitIndex nor the watermark reaches disk before the log
   * entries they cover.
   */
  private writeState({ entries, hardState }: { entries: Entry[]; hardState: HardState | null }): Promise<void> {
    if (hardState === null && entries.length === 0) return Promise.resolve();
    const next = { ...this.written, hardState: hardState ?? this.written.hardState, stableIndex: this.durableLastIndex() };
    // A vote's batch wrote it all already (writeHardState).
    if (next.stableIndex === this.written.stableIndex && sameHardState(next.hardState, this.written.hardState)) return Promise.resolve();
    return this.putState(next, true);
  }

  /**
   * Writes `next` to state.db and fsyncs it; with `lazy` (a watermark after a batch),
   * the fsync waits up to watermarkSyncMs after the last one (stateSyncTimer). A write
   * that is not fsynced yet can only be lost, leaving the earlier watermark: lower, never
   * past the log. Writes are appended in call order, and every fsync covers all before it.
   */
  private putState(next: StoredState, lazy = false): Promise<void> {
    this.written = next;
    const put = this.state.put(toStateDoc(next));
    const wait = this.stateSyncedAt + this.watermarkSyncMs - performance.now();
    if (!lazy || wait <= 0) return Promise.all([put, this.syncState()]).then(() => {});
    this.stateUnsynced = true;
    this.stateSyncTimer ??= setTimeout(() => {
      this.stateSyncTimer = null;
      if (this.stateUnsynced && !this.failure) this.syncStateNow();
    }, wait).unref();
    return put;
  }

  /** state.db's fsync, covering every write issued before it. */
  private syncState(): Promise<void> {
    this.stateUnsynced = false;
    this.stateSyncedAt = performance.now();
    if (this.stateSyncTimer) clearTimeout(this.stateSyncTimer);
    this.stateSyncTimer = null;
    return this.state.sync();
  }

  /** A deferred watermark fsync, now, tracked with the state writes (idle() and installs wait for it). */
  private syncStateNow(): void {
    const done: Promise<void> = this.syncState().then(
      () => void this.stateWrites.delete(done),
      (err: unknown) => {
        this.stateWrites.delete(done);
        this.fail(err, []);
      },
    );
    this.stateWrites.add(done);
  }

  private fail(err: unknown, ops: Op[]): void {
    if (!this.failure) {
      const message = err instanceof Error ? err.message : String(err);
      this.failure = new Error(`storage in ${this.dir} failed and takes no more saves (restart the node): ${message}`, { cause: err });
    }
    this.rejectAll([...ops, ...this.queue.splice(0)], this.failure);
  }

  private rejectAll(ops: Op[], err: Error): void {
    for (const op of ops) {
      op.reject(err);
      if (op.kind === 'install') op.ready.reject(err);
    }
  }
}

/**
 * log.db read against the snapshot (decodeLog), then checked against the watermark: a
 * log that does not connect to the snapshot may be discarded only if nothing past the
 * snapshot was acknowledged (see RaftStorage).
 */
function loadLog(content: DatafileContent, snapshot: Snapshot | null, stored: StoredState, stateFile: string, stateLine: number | null): DecodedLog {
  const log = decodeLog(content.source, content.live, snapshot);
  const snapshotIndex = snapshot?.index ?? 0;
  const watermark = stored.stableIndex;
  if (log.disconnected?.reason === 'term' && watermark !== null && watermark > snapshotIndex) {
    throw new CorruptDatafileError(
      content.source,
      null,
      `${log.disconnected.problem}, yet entries up to ${watermark} were acknowledged after it: the log contradicts the snapshot; ` +
        'start with --rejoin-empty to set the log aside and keep the snapshot',
    );
  }
  // A disconnected log that ends below the snapshot, with a watermark past it, is a loss.
  checkNothingLost(content.source, Math.max(snapshotIndex, log.entries.at(-1)?.index ?? 0), stored, stateFile, stateLine);
  return log;
}

/**
 * Refuses a log shorter than what this node acknowledged (the watermark) or, for a
 * state.db from before the watermark, than the commit index saved beside the hard state.
 * `lastIndex` counts the snapshot: max(snapshot index, last entry).
 */
function checkNothingLost(logFile: string, lastIndex: number, stored: StoredState, stateFile: string, stateLine: number | null): void {
  if (stored.stableIndex !== null) {
    if (lastIndex < stored.stableIndex) throw new LostEntriesError(logFile, lastIndex + 1, stored.stableIndex);
    return;
  }
  const { commitIndex } = stored.hardState;
  if (commitIndex > lastIndex) {
    throw new CorruptDatafileError(stateFile, stateLine, `commitIndex ${commitIndex} is past the last log entry ${lastIndex}`);
  }
}

/** Renames the untrusted log (and an interrupted compaction's copy) out of the way; returns the new name. */
async function setAside(logFile: string, source: string): Promise<string> {
  const movedTo = lostName(logFile);
  if (!(await exists(source))) return `(nothing: ${logFile} was gone)`;
  await rename(source, movedTo);
  const leftover = `${logFile}~`;
  if (source !== leftover && (await exists(leftover))) await rename(leftover, `${movedTo}~`);
  await fsyncPath(dirname(logFile));
  return movedTo;
}

/** Renames a damaged file out of the way (`file.lost-<time>`); returns the new name. */
async function setAsideFile(file: string): Promise<string> {
  const movedTo = lostName(file);
  await rename(file, movedTo);
  await fsyncPath(dirname(file));
  return movedTo;
}

function lostName(file: string): string {
  return `${file}.lost-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commitIndex === b.commitIndex;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // rejected only when the store fails, which the save reports
  return { promise, resolve, reject };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
