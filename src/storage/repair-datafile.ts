import { rename, truncate } from 'node:fs/promises';
import type { StorageEventListener } from './events.ts';
import type { DatafileContent } from './read-datafile.ts';

/**
 * Makes the datafile what was read and accepted, once it was accepted: a refused file is
 * left as found. Only a torn last line is cut off: NeDB ends every append with '\n' and
 * we fsync only after the append returns, so bytes after the last '\n' belong to a write
 * that was never acknowledged.
 */
export async function repairDatafile(file: string, content: DatafileContent, emit: StorageEventListener): Promise<void> {
  if (content.source !== file) await rename(content.source, file);
  if (content.torn !== null) {
    await truncate(file, content.torn.at);
    emit({ type: 'repair', file, line: content.torn.line, bytes: content.torn.bytes });
  }
}
