import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Entry, Snapshot } from '../../src/raft/types.ts';
import type { StorageEvent } from '../../src/storage/events.ts';

const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 3 })));
});

/** A fresh directory under the OS temp dir, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-storage-'));
  dirs.push(dir);
  return dir;
}

export function entry(index: number, term: number, data = `cmd-${index}`): Entry {
  return { index, term, kind: 'command', data };
}

/** Entries first..last, all in `term`. */
export function entries(first: number, last: number, term: number): Entry[] {
  return Array.from({ length: last - first + 1 }, (_, i) => entry(first + i, term));
}

/** One datafile line holding `doc`, as NeDB writes it. */
export function docLine(doc: object): string {
  return `${JSON.stringify(doc)}\n`;
}

/** A log entry's document as the store writes it to log.db. */
export function logDoc(index: number, term: number): object {
  return { _id: String(index), index, term, kind: 'command', data: `cmd-${index}` };
}

/** Collects storage events with a short label each, e.g. 'append log.db', 'fsync state.db', 'resolve'. */
export function eventLog(): { events: StorageEvent[]; labels: string[]; onEvent: (e: StorageEvent) => void } {
  const events: StorageEvent[] = [];
  const labels: string[] = [];
  return {
    events,
    labels,
    onEvent: (e) => {
      events.push(e);
      labels.push('file' in e ? `${e.type} ${e.file.split('/').pop()}` : e.type);
    },
  };
}

/** A snapshot whose data is `text` as UTF-8 (by default one naming its index). */
export function snap(index: number, term: number, text = `state@${index}`): Snapshot {
  return { index, term, data: new TextEncoder().encode(text) };
}

/** The indexes of the entries live in a log.db file, read the way NeDB would replay it. */
export async function liveIndexes(file: string): Promise<number[]> {
  const live = new Map<string, number>();
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (line === '') continue;
    const doc = JSON.parse(line) as { _id: string; index?: number; $$deleted?: boolean };
    if (doc.$$deleted) live.delete(doc._id);
    else live.set(doc._id, doc.index!);
  }
  return [...live.values()].sort((a, b) => a - b);
}

/** A copy of the data directory taken at one storage event: what a crash right then would leave. */
export interface CrashCopy {
  /** The event's label, as eventLog() writes it. */
  label: string;
  dir: string;
}

/**
 * An onEvent listener that, while `recording`, copies every file of `dir` into a new
 * directory under `root` at each event (synchronously, so nothing moves on while it
 * copies): the states a process crash could leave, one per step.
 */
export function crashRecorder(dir: string, root: string): { copies: CrashCopy[]; onEvent: (e: StorageEvent) => void; recording: boolean } {
  const recorder = {
    copies: [] as CrashCopy[],
    recording: false,
    onEvent: (e: StorageEvent) => {
      if (!recorder.recording) return;
      const label = 'file' in e ? `${e.type} ${e.file.split('/').pop()}` : e.type;
      const to = join(root, `${recorder.copies.length}-${label.replace(/[^a-z0-9.]+/gi, '_')}`);
      mkdirSync(to);
      for (const name of readdirSync(dir)) {
        try {
          if (statSync(join(dir, name)).isFile()) copyFileSync(join(dir, name), join(to, name));
        } catch (err) {
          // A file renamed away between the listing and the copy: the crash would not have seen it either.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      recorder.copies.push({ label, dir: to });
    },
  };
  return recorder;
}
