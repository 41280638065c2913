import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * protos/<name> of this package, found upwards from this module: the package root is one
 * level up from tracing/ in the sources and two up from dist/cli/ in the CLI bundle,
 * whatever directory the command runs in.
 */
export function protoFile(name: string): string {
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'protos', name);
    if (existsSync(file)) return file;
    if (path.dirname(dir) === dir) throw new Error(`protos/${name} not found in ${start} or any directory above it`);
  }
}
