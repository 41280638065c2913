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
