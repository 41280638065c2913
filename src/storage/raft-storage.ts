import { access, mkdir, rename } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Entry, HardState } from '../raft/types.ts';
import { checkSave, type LogTail } from './check-save.ts';
import { CorruptDatafileError, LostEntriesError } from './corrupt-datafile-error.ts';
import { Datafile } from './datafile.ts';
import type { StorageEvent, StorageEventListener } from './events.ts';
import { fsyncPath } from './fsync-path.ts';
import { decodeLog, entryId, toLogDoc } from './log-docs.ts';
import { mergeSaves, type SaveRequest } from './merge-saves.ts';
import { readDatafile } from './read-datafile.ts';
import { decodeState, toStateDoc, type StoredState } from './state-doc.ts';

export interface StorageOptions {
  /** Dead lines a datafile may hold before it is compacted (if also more than its live ones). Default 10,000. */
  compactAfterDeadLines?: number;
  /** Observes appends, fsyncs, resolved batches, compactions and torn-tail repairs, in order. */
  onEvent?: StorageEventListener;
  /**
   * When log.db cannot be trusted (it lost entries this node acknowledged, or a record is
   * damaged), set it aside as `log.db.lost-<time>` and start with an empty log, keeping
   * the term and vote (so the node cannot vote twice in a term) and recording in
   * catchUpIndex how far its log must be refilled before it votes again. Without it such
   * a log is refused. state.db must be sound either way. Default false.
   */
  rejoinEmpty?: boolean;
  /** The wall clock in ms, which the incarnation is kept at or above. Default Date.now. */
  now?: () => number;
}

/** What open() did with --rejoin-empty (rejoinEmpty): null when the log was sound and kept. */
export interface RejoinReport {
  /** The refusal a start without rejoinEmpty would have given. */
  reason: string;
  /** Where the old log.db is now. */
  movedTo: string;
  /** The node grants no vote until its log reaches this index again. */
  catchUpIndex: number;
}

interface PendingSave extends SaveRequest {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The Raft log and hard state, durable on NeDB: entries in `log.db`, hard state in
 * `state.db`. save() resolves only once its writes are fsynced; saves that arrive while
 * a batch is being written wait and go together in the next one (group commit).
 *
 * Every record carries a CRC-32, checked on load. state.db also holds the log's
 * acknowledged watermark (StoredState.stableIndex): each batch first writes and fsyncs
 * the log, then the watermark with the hard state, and only then resolves, so nothing
 * is acknowledged that the watermark does not cover. A log that loads shorter than its
 * watermark lost acknowledged entries and is refused (LostEntriesError), while a torn
 * last line, which only an append that never completed can leave, is cut off as before.
 * The watermark write of one batch overlaps the log write of the next, so the second
 * fsync costs latency, not throughput.
 */
export class RaftStorage {
  /** The log as the saves issued so far leave it, durable or not. */
  private tail: LogTail;
  /** Last index of the log on disk: every batch but the one being written is fsynced. */
  private durableLastIndex: number;
  /** state.db as last written (or being written); its watermark never exceeds durableLastIndex. */
  private written: StoredState;
  private queue: PendingSave[] = [];
  private flushing: Promise<void> | null = null;
  /** Set by the first failed write or fsync: after it, what is on disk is unknown. */
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly log: Datafile,
    private readonly state: Datafile,
    private readonly loaded: { hardState: HardState; entries: Entry[] },
    written: StoredState,
    /** What open() did with rejoinEmpty; null when it kept the log. */
    readonly rejoined: RejoinReport | null,
    private readonly emit: (event: StorageEvent) => void,
  ) {
    const last = loaded.entries.at(-1);
    this.tail = { lastIndex: last?.index ?? 0, lastTerm: last?.term ?? 0, commitIndex: loaded.hardState.commitIndex };
    this.durableLastIndex = this.tail.lastIndex;
    this.written = written;
  }

  /**
   * Opens (creating if needed) the store in `dir`; rejects with a CorruptDatafileError if
   * the files cannot be trusted, a LostEntriesError if log.db lost acknowledged entries
   * (unless options.rejoinEmpty). Every open raises the incarnation.
   */
  static async open(dir: string, options: StorageOptions = {}): Promise<RaftStorage> {
    const emit = options.onEvent ?? (() => {});
    await mkdir(dir, { recursive: true });
    // NeDB fsyncs the directory it writes in, not its parent, where a new dir's entry lives.
    await fsyncPath(dirname(resolve(dir)));
    const datafileOptions = { compactAfterDeadLines: options.compactAfterDeadLines ?? 10_000, emit };
    const [logFile, stateFile] = [join(dir, 'log.db'), join(dir, 'state.db')];
    // Both files are checked before NeDB loads either: its load rewrites a file, and a
    // refused one must stay as found, for a person to inspect and the next open to name the same line.
    let logContent = await readDatafile(logFile);
    const stateContent = await readDatafile(stateFile);
    const decoded = decodeState(stateContent.source, stateContent.live);
    // Every node that holds entries has saved a term: without it, the votes it gave are unknown.
    const noHardState = () =>
      new CorruptDatafileError(
        stateContent.source,
        null,
        `holds no hard state while ${logContent.source} holds ${logContent.live.size} entries: the term and vote this node promised are lost (was the file deleted?)`,
      );
    let stored: StoredState = decoded;
    let entries: Entry[];
    let rejoined: RejoinReport | null = null;
    try {
      entries = decodeLog(logContent.source, logContent.live);
      checkNothingLost(logContent.source, entries.length, stored, stateContent.source, decoded.line);
    } catch (err) {
      if (!options.rejoinEmpty || !(err instanceof CorruptDatafileError) || err.file !== logContent.source) throw err;
      if (decoded.line === null && logContent.live.size > 0) throw noHardState();
      const movedTo = await setAside(logFile, logContent.source);
      logContent = await readDatafile(logFile);
      entries = [];
      const catchUpIndex = Math.max(stored.stableIndex ?? 0, stored.hardState.commitIndex, stored.catchUpIndex, err instanceof LostEntriesError ? err.missingTo : 0);
      // Term and vote stay: a vote given in this term must not be given again.
      stored = { ...stored, hardState: { ...stored.hardState, commitIndex: 0 }, catchUpIndex };
      rejoined = { reason: err.message, movedTo, catchUpIndex };
    }
    if (rejoined === null && decoded.line === null && entries.length > 0) throw noHardState();
    const log = await Datafile.open(logFile, logContent, datafileOptions);
    const state = await Datafile.open(stateFile, stateContent, datafileOptions);
    // NeDB's load rewrote log.db and fsynced it: all of it is durable now.
    const written: StoredState = { ...stored, stableIndex: entries.length, incarnation: Math.max(stored.incarnation + 1, (options.now ?? Date.now)()) };
    await Promise.all([state.put(toStateDoc(written)), state.sync()]);
    return new RaftStorage(dir, log, state, { hardState: stored.hardState, entries }, written, rejoined, emit);
  }

  /** What open() found on disk, entries in index order; later saves are not reflected. */
  initialState(): { hardState: HardState; entries: Entry[] } {
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

  /** Last index once every save issued so far is applied (durable or not). */
  lastIndex(): number {
    return this.tail.lastIndex;
  }

  lastTerm(): number {
    return this.tail.lastTerm;
  }

  /**
   * Persists `hardState` (if not null) and `entries`: entries[0].index and everything
   * after it replace what the log held from there. Resolves once fsynced; saves apply in
   * call order. Rejects without writing if the save would break the log's invariants.
   */
  save(hardState: HardState | null, entries: Entry[]): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error(`storage in ${this.dir} is closed`));
    const problem = checkSave(this.tail, hardState, entries);
    if (problem !== null) return Promise.reject(new Error(`save rejected: ${problem}`));
    const last = entries.at(-1);
    if (last !== undefined) this.tail = { ...this.tail, lastIndex: last.index, lastTerm: last.term };
    if (hardState !== null) this.tail = { ...this.tail, commitIndex: hardState.commitIndex };
    // Copies: the caller may reuse its hard state object before the batch is written.
    const request = { hardState: hardState && { ...hardState }, entries: entries.slice() };
    return new Promise((resolve, reject) => {
      this.queue.push({ ...request, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Resolves once every save issued before it has settled; later saves are refused. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    this.log.close();
    this.state.close();
  }

  /**
   * Writes batches one after another: a batch's log write and fsync, then its state.db
   * write and fsync, which the next batch's log write overlaps. Each batch resolves when
   * its state.db write is durable; they finish in order (state.db's writes queue in order).
   */
  private async flush(): Promise<void> {
    await null; // saves issued in the same tick join the first batch
    const stateWrites = new Set<Promise<void>>();
    // Saves issued as earlier batches resolve arrive while the last state writes finish:
    // look at the queue again after them.
    for (; this.queue.length > 0 && !this.failure; await Promise.all(stateWrites)) await this.flushQueue(stateWrites);
    this.flushing = null;
  }

  private async flushQueue(stateWrites: Set<Promise<void>>): Promise<void> {
    while (this.queue.length > 0 && !this.failure) {
      const batch = this.queue.splice(0);
      const write = mergeSaves(batch);
      try {
        await this.writeLog(write);
      } catch (err) {
        this.fail(err, batch);
        break;
      }
      const done: Promise<void> = this.writeState(write).then(
        () => {
          stateWrites.delete(done);
          if (this.failure) return this.rejectAll(batch, this.failure);
          this.emit({ type: 'resolve', saves: batch.length });
          for (const save of batch) save.resolve();
        },
        (err: unknown) => {
          stateWrites.delete(done);
          this.fail(err, batch);
        },
      );
      stateWrites.add(done);
      if (this.log.compactionDue(this.durableLastIndex) || this.state.compactionDue(1)) {
        // A compaction replaces the file under the append descriptor: nothing may be in flight.
        await Promise.all(stateWrites);
        if (this.failure) break;
        try {
          await this.log.compactIfWorthIt(this.durableLastIndex);
          await this.state.compactIfWorthIt(1);
        } catch (err) {
          this.fail(err, []);
          break;
        }
      }
    }
  }

  private async writeLog({ from, entries }: { from: number; entries: Entry[] }): Promise<void> {
    if (entries.length === 0) return;
    if (from <= (this.written.stableIndex ?? 0)) {
      // Entries the watermark covers are being replaced (a new leader's log wins): lower
      // it first, durably, so a crash between this write and the next watermark cannot
      // pass for a loss. Rare: only a conflicting suffix is ever replaced.
      await this.putState({ ...this.written, stableIndex: from - 1 });
    }
    const durable = this.durableLastIndex;
    const replaced = Array.from({ length: Math.max(0, durable - from + 1) }, (_, i) => entryId(from + i));
    // Issued back to back, so NeDB's executor runs them in this order and the fsync follows both writes.
    await Promise.all([this.log.remove(replaced), this.log.insert(entries.map(toLogDoc)), this.log.sync()]);
    this.durableLastIndex = from + entries.length - 1;
  }

  /**
   * The hard state and the new watermark, after the batch's log write: a commitIndex
   * never reaches disk before the entries it covers, nor the watermark before the log.
   */
  private writeState({ entries, hardState }: { entries: Entry[]; hardState: HardState | null }): Promise<void> {
    if (hardState === null && entries.length === 0) return Promise.resolve();
    return this.putState({ ...this.written, hardState: hardState ?? this.written.hardState, stableIndex: this.durableLastIndex });
  }

  private putState(next: StoredState): Promise<void> {
    this.written = next;
    return Promise.all([this.state.put(toStateDoc(next)), this.state.sync()]).then(() => {});
  }

  private fail(err: unknown, batch: PendingSave[]): void {
    if (!this.failure) {
      const message = err instanceof Error ? err.message : String(err);
      this.failure = new Error(`storage in ${this.dir} failed and takes no more saves (restart the node): ${message}`, { cause: err });
    }
    this.rejectAll([...batch, ...this.queue.splice(0)], this.failure);
  }

  private rejectAll(saves: PendingSave[], err: Error): void {
    for (const save of saves) save.reject(err);
  }
}

/**
 * Refuses a log shorter than what this node acknowledged (the watermark) or, for a
 * state.db from before the watermark, than the commit index saved beside the hard state.
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
  const movedTo = `${logFile}.lost-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  if (!(await exists(source))) return `(nothing: ${logFile} was gone)`;
  await rename(source, movedTo);
  const leftover = `${logFile}~`;
  if (source !== leftover && (await exists(leftover))) await rename(leftover, `${movedTo}~`);
  await fsyncPath(dirname(logFile));
  return movedTo;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
