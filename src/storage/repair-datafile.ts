import { open, readFile, rename, truncate } from 'node:fs/promises';
import path from 'node:path';
import type { StorageEventListener } from './events.ts';
import { fsyncPath } from './fsync-path.ts';
import { escapeLineBreakers, hasLineBreakers } from './line-breakers.ts';
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
  await escapeOldLines(file);
}

/**
 * A file written before lines were escaped (line-breakers.ts) may hold U+0085, U+2028 or
 * U+2029 as they are, which NeDB's loader would take for line ends and refuse the file.
 * Every line of it parsed as JSON (readDatafile), where those characters stand only inside
 * strings, so escaping them changes no document. Rewritten aside, fsynced and renamed in,
 * then the directory fsynced: a crash leaves the old file or the new one.
 */
async function escapeOldLines(file: string): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return; // none yet
  }
  if (!hasLineBreakers(bytes)) return;
  const tmp = `${file}.escaped`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(escapeLineBreakers(bytes.toString('utf8')), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await fsyncPath(path.dirname(file));
}
