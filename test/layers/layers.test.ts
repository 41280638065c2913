import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { folderCycles, importEdges, listFiles, unitOf, type ImportEdge } from './import-graph.ts';

/**
 * The house rules of the source tree. Arrows point down only: a folder may import its
 * own layer or a lower one, never a higher one, and folders of one layer must not import
 * each other in a circle. Top to bottom:
 */
const LAYERS: readonly (readonly string[])[] = [
  ['src/cli', 'src/tui', 'src/chaos', 'scenarios', 'bench'],
  ['src/server', 'src/client', 'src/cluster', 'tracing/report'],
  ['src/transport'],
  ['src/kv', 'src/storage', 'tracing', 'tracing/check'],
  ['src/raft', 'src/os'],
];

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CODE_ROOTS = ['src', 'tracing', 'scenarios', 'bench'];
const NAMED_ROOTS = ['src', 'tracing', 'test', 'scenarios', 'bench'];
/** Files that may not be TypeScript, and why. */
const NOT_TS: Record<string, string> = {
  'bench/cpu-prof.mjs': 'preloaded with NODE_OPTIONS=--import into server processes, before tsx can load TypeScript',
};

const edges = importEdges(ROOT, CODE_ROOTS);
const show = (e: ImportEdge) => `${e.from}:${e.line} imports ${e.to}`;
const layerOf = (unit: string) => LAYERS.findIndex((l) => l.includes(unit));
/** src/raft's own imports are rule (a)'s to report; leaving them out here reports each fault once and hides none. */
const outsideRaft = edges.filter((e) => unitOf(e.from) !== 'src/raft');

describe('layers', () => {
  it('finds the imports it checks (the parser works)', () => {
    expect(edges.length).toBeGreaterThan(200);
    expect(edges).toContainEqual(expect.objectContaining({ from: 'src/server/server.ts', to: 'src/server/raft-node.ts' }));
    expect(edges).toContainEqual(expect.objectContaining({ from: 'src/cli/raftkv.ts', to: 'src/tui/run.ts' }));
  });

  it('every folder with code has a place in the layer table', () => {
    const units = new Set(CODE_ROOTS.flatMap((r) => listFiles(ROOT, r)).filter((f) => /\.(tsx?|mjs)$/.test(f)).map(unitOf));
    expect([...units].filter((u) => layerOf(u) < 0)).toEqual([]);
  });

  // (a) The Raft core is pure: no tracing, no storage, no I/O of ours. This passes once
  // the core refactor (branch i11-core) that moves tracing out of src/raft is merged.
  it('(a) src/raft imports nothing outside src/raft', () => {
    const out = edges.filter((e) => unitOf(e.from) === 'src/raft' && unitOf(e.to) !== 'src/raft');
    expect(out.map(show)).toEqual([]);
  });

  it('(b) tracing, the checker included, never imports the client library', () => {
    const bad = edges.filter((e) => unitOf(e.from).startsWith('tracing') && unitOf(e.to) === 'src/client');
    expect(bad.map(show)).toEqual([]);
  });

  it('arrows point down: no folder imports a folder of a higher layer', () => {
    const up = outsideRaft.filter((e) => layerOf(unitOf(e.to)) < layerOf(unitOf(e.from)));
    expect(up.map((e) => `${show(e)} (layer ${layerOf(unitOf(e.from))} -> ${layerOf(unitOf(e.to))})`)).toEqual([]);
  });

  it('(c) no import cycle between folders', () => {
    const cycles = folderCycles(outsideRaft).map((c) => `${c.units.join(' <-> ')}:\n    ${c.edges.map(show).join('\n    ')}`);
    expect(cycles).toEqual([]);
  });

  it('(d) one file-name style: kebab-case, TypeScript sources as .ts/.tsx', () => {
    // Dot-files (.gitkeep) are tool conventions, not names of ours.
    const files = NAMED_ROOTS.flatMap((r) => listFiles(ROOT, r)).filter((f) => !path.basename(f).startsWith('.'));
    const kebab = /^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+)+$/;
    expect(files.filter((f) => f.split('/').slice(1).some((part, i, all) => (i === all.length - 1 ? !kebab.test(part) : !/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(part))))).toEqual([]);
    expect(files.filter((f) => /\.(js|jsx|mjs|cjs|mts|cts)$/.test(f) && !(f in NOT_TS))).toEqual([]);
  });
});
