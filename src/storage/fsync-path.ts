import { open } from 'node:fs/promises';

/**
 * fsync whatever is at `path` now. Opened by path on every call rather than kept open:
 * compaction renames a new file over the datafile, and a long-lived descriptor would go
 * on syncing the replaced inode.
 */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
