import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The file in a removed server's data directory that records the index of its removal. */
const REMOVED_FILE = 'removed.json';

/** The index at which this server was removed, as it recorded it; null if it never was. */
export function readRemovedMarker(dataDir: string): number | null {
  const file = path.join(dataDir, REMOVED_FILE);
  if (!existsSync(file)) return null;
  try {
    const v = (JSON.parse(readFileSync(file, 'utf8')) as { index?: unknown }).index;
    return Number.isSafeInteger(v) ? (v as number) : 0;
  } catch {
    // Written by this server only; a torn write still says it was removed.
    return 0;
  }
}

/** Records this server's removal (best effort: the members refuse it anyway, and say why). */
export function writeRemovedMarker(dataDir: string, index: number): void {
  try {
    writeFileSync(path.join(dataDir, REMOVED_FILE), JSON.stringify({ index }) + '\n');
  } catch (err) {
    console.error(`cannot record the removal in ${dataDir}: ${(err as Error).message}`);
  }
}
