#!/usr/bin/env node
// The `raftkv` command (package.json "bin"; `npx raftkv`, or `npm link` for a global one).
// It runs the bundle dist/cli/raftkv.js, which `npm ci` builds (scripts/build-cli.mjs),
// when that is there and no source it was built from has changed since; otherwise the
// TypeScript sources through tsx, which starts several times slower, with a note saying
// why. Every path is resolved from this file, so it works from any directory.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = path.join(ROOT, 'dist', 'cli', 'raftkv.js');
const INPUTS = path.join(ROOT, 'dist', 'cli', 'inputs.json');

/** Why the bundle cannot be used, or null when it can. */
function bundleProblem() {
  if (process.env.RAFTKV_FROM_SOURCE === '1') return 'RAFTKV_FROM_SOURCE=1';
  if (!existsSync(BUNDLE) || !existsSync(INPUTS)) return 'dist/cli/ is not built';
  const built = statSync(BUNDLE).mtimeMs;
  for (const file of JSON.parse(readFileSync(INPUTS, 'utf8'))) {
    const source = path.join(ROOT, file);
    if (!existsSync(source) || statSync(source).mtimeMs > built) return `${file} changed after dist/cli/ was built`;
  }
  return null;
}

const problem = bundleProblem();
if (problem === null) {
  await import(pathToFileURL(BUNDLE).href);
} else {
  if (problem !== 'RAFTKV_FROM_SOURCE=1') {
    console.error(`raftkv: running the TypeScript sources with tsx, slower to start (${problem}; "npm run build" makes the bundle)`);
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(path.join(ROOT, 'src', 'cli', 'raftkv.ts')).href);
}
