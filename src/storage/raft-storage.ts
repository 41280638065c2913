import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Entry, HardState } from '../raft/types.ts';
import { checkSave, type LogTail } from './check-save.ts';
import { Datafile } from './datafile.ts';
import type { StorageEvent, StorageEventListener } from './events.ts';
import { fsyncPath } from './fsync-path.ts';
import { decodeLog, entryId, toLogDoc } from './log-docs.ts';
import { mergeSaves, type SaveRequest } from './merge-saves.ts';
import { readDatafile } from './read-datafile.ts';
import { decodeHardState, toStateDoc } from './state-doc.ts';

export interface StorageOptions {
  /** Dead lines a datafile may hold before it is compacted (if also more than its live ones). Default 10,000. */
  compactAfterDeadLines?: number;
  /** Observes appends, fsyncs, resolved batches, compactions and torn-tail repairs, in order. */
  onEvent?: StorageEventListener;
}

interface PendingSave extends SaveRequest {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * The Raft log and hard state, durable on NeDB: entries in `log.db`, hard state in
 * `state.db`. save() resolves only once its writes are fsynced; saves that arrive while
 * a batch is being written wait and go together in the next one (group commit).
 */
export class RaftStorage {
  /** The log as the saves issued so far leave it, durable or not. */
  private tail: LogTail;
  /** Last index of the log on disk: every batch but the one being written is fsynced. */
  private durableLastIndex: number;
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
    private readonly emit: (event: StorageEvent) => void,
  ) {
    const last = loaded.entries.at(-1);
    this.tail = { lastIndex: last?.index ?? 0, lastTerm: last?.term ?? 0, commitIndex: loaded.hardState.commitIndex };
    this.durableLastIndex = this.tail.lastIndex;
  }

  /** Opens (creating if needed) the store in `dir`; rejects with a CorruptDatafileError if the files cannot be trusted. */
  static async open(dir: string, options: StorageOptions = {}): Promise<RaftStorage> {
    const emit = options.onEvent ?? (() => {});
    await mkdir(dir, { recursive: true });
    // NeDB fsyncs the directory it writes in, not its parent, where a new dir's entry lives.
    await fsyncPath(dirname(resolve(dir)));
    const datafileOptions = { compactAfterDeadLines: options.compactAfterDeadLines ?? 10_000, emit };
    const [logFile, stateFile] = [join(dir, 'log.db'), join(dir, 'state.db')];
    // Both files are checked before NeDB loads either: its load rewrites a file, and a
    // refused one must stay as found, for a person to inspect and the next open to name the same line.
    const [logContent, stateContent] = [await readDatafile(logFile), await readDatafile(stateFile)];
    const entries = decodeLog(logContent.source, logContent.live);
    const hardState = decodeHardState(stateContent.source, stateContent.live, entries.at(-1)?.index ?? 0);
    const log = await Datafile.open(logFile, logContent, datafileOptions);
    const state = await Datafile.open(stateFile, stateContent, datafileOptions);
    return new RaftStorage(dir, log, state, { hardState, entries }, emit);
  }

  /** What open() found on disk, entries in index order; later saves are not reflected. */
  initialState(): { hardState: HardState; entries: Entry[] } {
    return this.loaded;
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

  private async flush(): Promise<void> {
    await null; // saves issued in the same tick join the first batch
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        await this.write(batch);
      } catch (err) {
        return this.fail(err, batch);
      }
      this.emit({ type: 'resolve', saves: batch.length });
      for (const save of batch) save.resolve();
      try {
        await this.log.compactIfWorthIt(this.durableLastIndex);
        await this.state.compactIfWorthIt(1);
      } catch (err) {
        return this.fail(err, []);
      }
    }
    this.flushing = null;
  }

  private async write(batch: SaveRequest[]): Promise<void> {
    const { from, entries, hardState } = mergeSaves(batch);
    const durable = this.durableLastIndex;
    let logSynced = Promise.resolve();
    if (entries.length > 0) {
      const replaced = Array.from({ length: Math.max(0, durable - from + 1) }, (_, i) => entryId(from + i));
      // Issued back to back, so NeDB's executor runs them in this order and the fsync follows both writes.
      logSynced = Promise.all([this.log.remove(replaced), this.log.insert(entries.map(toLogDoc)), this.log.sync()]).then(() => {});
    }
    let stateSynced = Promise.resolve();
    if (hardState !== null) {
      const writeState = () => Promise.all([this.state.put(toStateDoc(hardState)), this.state.sync()]).then(() => {});
      // A crash may keep this hard state and lose the batch's log writes, leaving the
      // log at `logKeeps` at worst; a commitIndex past that waits for the log's fsync.
      const logKeeps = entries.length > 0 ? Math.min(durable, from - 1) : durable;
      stateSynced = hardState.commitIndex <= logKeeps ? writeState() : logSynced.then(writeState);
    }
    await Promise.all([logSynced, stateSynced]);
    if (entries.length > 0) this.durableLastIndex = from + entries.length - 1;
  }

  private fail(err: unknown, batch: PendingSave[]): void {
    const message = err instanceof Error ? err.message : String(err);
    this.failure = new Error(`storage in ${this.dir} failed and takes no more saves (restart the node): ${message}`, { cause: err });
    for (const save of [...batch, ...this.queue.splice(0)]) save.reject(this.failure);
    this.flushing = null;
  }
}
