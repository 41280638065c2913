import { statSync } from 'node:fs';
import Datastore from 'nedb-promises';
import { CorruptDatafileError } from './corrupt-datafile-error.ts';
import type { StorageEventListener } from './events.ts';
import { AppendHandle } from './append-handle.ts';
import type { DatafileContent, Doc } from './read-datafile.ts';
import { repairDatafile } from './repair-datafile.ts';
import { escapeLineBreakers } from './line-breakers.ts';

/**
 * The @seald-io/nedb datastore inside nedb-promises' wrapper. We drive it directly: the
 * wrapper awaits load() before queueing each write, so a task queued right after a
 * wrapped write could enter NeDB's executor ahead of it, and an fsync must follow it.
 */
interface NedbDatastore {
  persistence: { persistNewStateAsync(docs: Doc[]): Promise<void>; persistCachedDatabaseAsync(): Promise<void> };
  executor: { pushAsync<T>(task: () => Promise<T>): Promise<T> };
  insertAsync(docs: Doc[]): Promise<unknown>;
  /** insertAsync without the executor: for use inside a task already running on it. */
  _insertAsync(docs: Doc[]): Promise<unknown>;
  removeAsync(query: object, options: { multi: boolean }): Promise<number>;
  /** removeAsync without the executor: for use inside a task already running on it. */
  _removeAsync(query: object, options: { multi: boolean }): Promise<number>;
  updateAsync(query: object, update: Doc, options: { upsert: boolean }): Promise<unknown>;
  getAllData(): Doc[];
}

interface DatafileOptions {
  /** Dead lines (overwritten or deleted documents) tolerated before compacting, if more than the live ones. */
  compactAfterDeadLines: number;
  emit: StorageEventListener;
}

/**
 * One NeDB datafile: append-only writes, an fsync ordered after them, and compaction
 * once enough of the file is dead. NeDB itself never fsyncs an append, and its appends
 * go through our kept descriptor (see AppendHandle).
 */
export class Datafile {
  /** Lines in the file: every write appends, only compaction shrinks it. */
  private lines: number;
  /** Bytes in the file: grows with every append, set from the file after each rewrite. */
  private size: number;
  /** Set while documents are removed from memory only, ahead of a rewrite (rewriteWithout). */
  private memoryOnly = false;
  private readonly handle: AppendHandle;

  private constructor(
    readonly path: string,
    private readonly db: NedbDatastore,
    live: number,
    private readonly options: DatafileOptions,
  ) {
    this.lines = live; // NeDB rewrites the file with one line per live document when it loads
    this.size = fileSize(path);
    this.handle = new AppendHandle(path);
    // NeDB serializes with JSON.stringify plus a Date encoding; our documents hold only
    // strings and numbers, and NeDB has checked their keys before this is called.
    db.persistence.persistNewStateAsync = async (docs) => {
      if (docs.length === 0 || this.memoryOnly) return;
      const text = docs.map(docLine).join('');
      this.handle.append(text);
      this.size += Buffer.byteLength(text, 'utf8');
    };
  }

  /** Approximate size of the file on disk in bytes (exact unless a write failed); no system call. */
  get bytes(): number {
    return this.size;
  }

  /** Documents NeDB holds (in memory, and live in the file). O(n): for tests and diagnostics. */
  documentCount(): number {
    return this.db.getAllData().length;
  }

  /** Releases the descriptor kept for appends and fsync; call once no write is pending. */
  close(): void {
    this.handle.forget();
  }

  /**
   * Loads a datafile whose content was read and accepted. Only now may anything write to
   * it, NeDB's load included, which rewrites it with one line per live document.
   */
  static async open(path: string, content: DatafileContent, options: DatafileOptions): Promise<Datafile> {
    await repairDatafile(path, content, options.emit);
    // NeDB's own rewrites (at load, compaction) escape what its loader would split on, as
    // ours do (docLine); reading back needs nothing: JSON.parse reads the escapes.
    const wrapper = Datastore.create({ filename: path, corruptAlertThreshold: 0, afterSerialization: escapeLineBreakers, beforeDeserialization: (line: string) => line });
    try {
      await wrapper.load();
    } catch (err) {
      throw new Error(`${path}: NeDB could not load it: ${(err as Error).message}`, { cause: err });
    }
    const db = (wrapper as unknown as { __original?: NedbDatastore }).__original;
    if (!db?.executor) throw new Error('nedb-promises no longer exposes its @seald-io/nedb datastore as __original');
    if (typeof db.persistence?.persistNewStateAsync !== 'function') throw new Error('@seald-io/nedb no longer appends through persistence.persistNewStateAsync');
    if (typeof db.persistence.persistCachedDatabaseAsync !== 'function' || typeof db._removeAsync !== 'function' || typeof db._insertAsync !== 'function') {
      throw new Error('@seald-io/nedb no longer exposes persistence.persistCachedDatabaseAsync, _removeAsync and _insertAsync');
    }
    const loaded = db.getAllData().length;
    if (loaded !== content.live.size) {
      throw new CorruptDatafileError(path, null, `NeDB loaded ${loaded} documents where the file holds ${content.live.size}`);
    }
    return new Datafile(path, db, loaded, options);
  }

  /** Appends `docs` (new _ids) as one write; durable after a later sync(). */
  insert(docs: Doc[]): Promise<void> {
    return this.appended(this.db.insertAsync(docs), docs.length);
  }

  /**
   * Appends `docs` (new _ids) and fsyncs them, resolving once they are durable: the
   * append is one synchronous write at the call and the fsync starts right after it,
   * before NeDB sees the documents, whose bookkeeping (copies, checks, the _id index)
   * then runs on its executor while the disk works, adding them to its memory only. The
   * lines are the ones NeDB would append (our documents hold only strings and numbers).
   * For the log's common case, a batch that only appends: call it only while no task is
   * queued on this datafile (RaftStorage's log lane awaits each write before the next),
   * or the fsync could pass a write NeDB has not made yet.
   */
  appendAndSync(docs: Doc[]): Promise<void> {
    let synced: Promise<void>;
    try {
      const text = docs.map(docLine).join('');
      this.handle.append(text);
      this.size += Buffer.byteLength(text, 'utf8');
      this.lines += docs.length;
      this.options.emit({ type: 'append', file: this.path, lines: docs.length });
      synced = this.handle.sync().then(() => this.options.emit({ type: 'fsync', file: this.path }));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const cached = this.db.executor.pushAsync(async () => {
      this.memoryOnly = true;
      try {
        await this.db._insertAsync(docs);
      } finally {
        this.memoryOnly = false;
      }
    });
    return Promise.all([synced, cached]).then(() => {});
  }

  /** Appends a `$$deleted` line per id (ids NeDB holds); durable after a later sync(). */
  remove(ids: string[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.appended(this.db.removeAsync({ _id: { $in: ids } }, { multi: true }), ids.length);
  }

  /** Insert or replace the document with doc._id (one appended line); durable after a later sync(). */
  put(doc: Doc): Promise<void> {
    return this.appended(this.db.updateAsync({ _id: doc._id }, doc, { upsert: true }), 1);
  }

  /**
   * Resolves once every write issued before it is on disk. NeDB's executor runs tasks one
   * after another in the order they were queued, so this fsync starts only after those
   * writes' appendFile calls have returned.
   */
  sync(): Promise<void> {
    return this.db.executor.pushAsync(async () => {
      await this.handle.sync();
      this.options.emit({ type: 'fsync', file: this.path });
    });
  }

  /**
   * Compacts when dead lines outnumber both the threshold and the live documents, so
   * the rewrite costs O(1) per write amortised. An append-only log has no dead lines
   * and is never rewritten; a truncation or a replaced document makes some.
   */
  async compactIfWorthIt(liveDocs: number): Promise<void> {
    if (!this.compactionDue(liveDocs)) return;
    await this.db.executor.pushAsync(() => this.rewrite());
  }

  /**
   * Drops the documents matching `query` (a NeDB query) and rewrites the file without
   * them, in one step on disk: they leave NeDB's memory (its removal appends nothing),
   * then the file is rewritten from what is left (NeDB's compaction, crash safe). A crash
   * leaves the old file or the new one, never part of the removal: unlike appended
   * `$$deleted` lines, which NeDB writes in its own order, a torn write cannot leave
   * holes. Costs a write of every live document, so it is for dropping many at once (a
   * compacted or replaced log). `onDropped(n)` runs between the two steps, when nothing
   * on disk has changed yet. Queued behind every write issued before it.
   */
  rewriteWithout(query: object, onDropped: (removed: number) => void = () => {}): Promise<void> {
    return this.db.executor.pushAsync(async () => {
      this.memoryOnly = true;
      let removed: number;
      try {
        removed = await this.db._removeAsync(query, { multi: true });
      } finally {
        this.memoryOnly = false;
      }
      onDropped(removed);
      await this.rewrite();
    });
  }

  /**
   * Rewrites the file with NeDB's live documents; runs on NeDB's executor, so no append
   * of ours is under way and none starts before the descriptor is forgotten. Crash safe
   * without our help: NeDB (storage.crashSafeWriteFileLinesAsync) writes `file~`, fsyncs
   * it, renames it over the datafile and fsyncs the directory.
   */
  private async rewrite(): Promise<void> {
    await this.db.persistence.persistCachedDatabaseAsync();
    this.handle.forget();
    this.lines = this.db.getAllData().length;
    this.size = fileSize(this.path);
    this.options.emit({ type: 'compact', file: this.path });
  }

  /** Whether compactIfWorthIt(liveDocs) would compact now. */
  compactionDue(liveDocs: number): boolean {
    return this.lines - liveDocs >= Math.max(this.options.compactAfterDeadLines, liveDocs);
  }

  private appended(write: Promise<unknown>, lines: number): Promise<void> {
    this.lines += lines;
    return write.then(() => this.options.emit({ type: 'append', file: this.path, lines }));
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * A document's line as NeDB would append it (our documents hold only strings and numbers),
 * with the characters NeDB's loader splits lines on escaped (line-breakers.ts).
 */
function docLine(doc: Doc): string {
  return `${escapeLineBreakers(JSON.stringify(doc))}\n`;
}
