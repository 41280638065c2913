import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The project's imports as a graph between folders ("units": src/raft, tracing/check,
 * scenarios, ...), read from the source text so the layering test needs no compiler.
 * Only relative specifiers count: packages and node: builtins are not ours.
 */

export interface ImportEdge {
  /** Importing and imported file, relative to the project root, with forward slashes. */
  from: string;
  to: string;
  /** 1-based line of the import in `from`. */
  line: number;
}

const CODE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

/**
 * Every relative import in the code files under `roots` (static, re-export, side-effect
 * and dynamic import()). Specifiers are resolved against the importing file.
 */
export function importEdges(rootDir: string, roots: readonly string[]): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of roots.flatMap((r) => listFiles(rootDir, r)).filter((f) => CODE.test(f))) {
    const text = readFileSync(path.join(rootDir, file), 'utf8');
    for (const { spec, index } of specifiers(text)) {
      if (!spec.startsWith('.')) continue;
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
      edges.push({ from: file, to, line: text.slice(0, index).split('\n').length });
    }
  }
  return edges;
}

/** Import specifiers with their offsets; a `from '...'` inside a comment may be caught too (harmless: it fails loudly). */
function specifiers(text: string): { spec: string; index: number }[] {
  const patterns = [
    /\b(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
  ];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => ({ spec: m[1], index: m.index })));
}

/**
 * The files under `dir` (relative to rootDir) that git tracks or would track: committed,
 * staged or new, but not ignored output (bench/results, traces) and not deleted ones.
 */
export function listFiles(rootDir: string, dir: string): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', dir], { cwd: rootDir, encoding: 'utf8' });
  return [...new Set(out.split('\0'))].filter((f) => f !== '' && existsSync(path.join(rootDir, f)));
}

/**
 * The folder a file belongs to in the layer table: src/<name>, tracing/check, tracing, or
 * the top folder (scenarios, bench, protos, ...).
 */
export function unitOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'src') return `src/${parts[1]}`;
  if (parts[0] === 'tracing' && (parts[1] === 'check' || parts[1] === 'report') && parts.length > 2) return `tracing/${parts[1]}`;
  return parts[0];
}

/**
 * The groups of folders that import each other in a circle (strongly connected
 * components of more than one folder), each with the edges that close it. Empty when
 * the folder graph is acyclic.
 */
export function folderCycles(edges: readonly ImportEdge[]): { units: string[]; edges: ImportEdge[] }[] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    const [a, b] = [unitOf(e.from), unitOf(e.to)];
    if (a === b) continue;
    if (!next.has(a)) next.set(a, new Set());
    if (!next.has(b)) next.set(b, new Set());
    next.get(a)!.add(b);
  }
  return stronglyConnected(next)
    .filter((c) => c.length > 1)
    .map((units) => ({
      units: units.sort(),
      edges: edges.filter((e) => unitOf(e.from) !== unitOf(e.to) && units.includes(unitOf(e.from)) && units.includes(unitOf(e.to))),
    }));
}

/** Tarjan's algorithm: every node lands in exactly one component. */
function stronglyConnected(next: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      out.push(component);
    }
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return out;
}
