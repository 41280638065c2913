import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { Entry } from '../../src/raft/types.ts';
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
