#!/usr/bin/env node
/**
 * Bundles the raftkv CLI into dist/cli/ with esbuild, so `raftkv` (bin/raftkv.js) starts
 * in a fraction of the time tsx takes to load the TypeScript sources. `npm ci` and
 * `npm install` run it (the "prepare" script); `npm run build` runs it by hand.
 *
 * dist/cli/ sits two levels below the package root, as src/cli/ does, so paths the
 * sources compute from import.meta.url ('../../') mean the same in the bundle. ink and
 * react stay outside (the terminal UI loads them from node_modules on demand).
 * dist/cli/inputs.json lists the sources bundled, for bin/raftkv.js to tell a stale
 * bundle from a fresh one. A missing esbuild is not an error: bin/raftkv.js then runs
 * the sources through tsx.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'dist', 'cli');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch (err) {
  console.warn(`raftkv build: esbuild is not installed (${err.message}); bin/raftkv.js will run the sources with tsx`);
  process.exit(0);
}

const started = Date.now();
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const result = await esbuild.build({
  absWorkingDir: ROOT,
  entryPoints: { raftkv: 'src/cli/raftkv.ts' },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  jsx: 'automatic',
  external: ['ink', 'react', 'react/*', 'react-devtools-core'],
  // Bundled CommonJS packages (grpc-js) call require(); ESM output has none of its own.
  banner: { js: "import { createRequire as __raftkvCreateRequire } from 'node:module'; const require = __raftkvCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/')).sort();
writeFileSync(path.join(OUT, 'inputs.json'), JSON.stringify(inputs, null, 1) + '\n');
console.log(`raftkv build: dist/cli/raftkv.js from ${inputs.length} sources in ${Date.now() - started} ms`);
