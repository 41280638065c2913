import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const D3_BUNDLE = path.join('node_modules', 'd3', 'dist', 'd3.min.js');

/**
 * The text of d3's minified browser bundle (node_modules/d3/dist/d3.min.js, d3 7.9.2),
 * which the report inlines so the page needs no network. Found upwards from this module
 * (tracing/report/ in the sources, dist/cli/ in the CLI bundle), as protos are. Throws
 * when d3 is not installed.
 */
export function d3Bundle(): string {
  const start = path.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = path.dirname(dir)) {
    const file = path.join(dir, D3_BUNDLE);
    if (existsSync(file)) return readFileSync(file, 'utf8');
    if (path.dirname(dir) === dir) throw new Error(`${D3_BUNDLE} not found in ${start} or any directory above it (is d3 installed? npm ci)`);
  }
}
