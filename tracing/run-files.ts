import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the tools that read a run directory (`raftkv report`, `raftkv trace slice`) may
 * write. A run directory holds the tracing server's files (docs/TRACING.md "The files of a
 * run"), the harness's logs/, and what the tools wrote; an `-o` that names one of them
 * would destroy what cannot be made again (the trace) or another tool's output. One guard
 * for both tools, so they refuse the same files.
 */

/** Files the tracing server and the harness write: the run itself. */
export const RUN_INPUT_FILES = ['trace.jsonl', 'shiviz.log', 'history.json', 'history.jsonl', 'meta.json'] as const;
/** The folder of each server process's output (the scenario harness). */
export const RUN_LOGS_DIR = 'logs';
/** Each tool's default output in the run directory. */
export const RUN_OUTPUTS = { report: 'report.html', slice: 'slice.log' } as const;

export type RunTool = keyof typeof RUN_OUTPUTS;

/**
 * Why `tool` may not write `out` for the run in `runDir`, or null when it may: `out` is one
 * of the run's input files, anything under its logs/, another tool's default output, an
 * existing directory, or in a directory that does not exist. `out` may be the tool's own
 * default output (rewriting it is the point). Paths are compared after resolving symbolic
 * links of the directories that exist, so `./run/../run/trace.jsonl` or a linked run
 * directory is caught too. Only stats the file system; throws nothing.
 */
export function outputProblem(runDir: string, out: string, tool: RunTool): string | null {
  const target = real(path.resolve(out));
  const dir = real(path.resolve(runDir));
  const rel = path.relative(dir, target);
  if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) {
    const parts = rel.split(path.sep);
    if (parts[0] === RUN_LOGS_DIR) return `-o ${out} is inside the run's ${RUN_LOGS_DIR}/ folder (its processes' output); choose another file`;
    if (parts.length === 1) {
      if ((RUN_INPUT_FILES as readonly string[]).includes(rel)) return `-o ${out} would overwrite the run's own ${rel}; choose another file`;
      for (const [other, file] of Object.entries(RUN_OUTPUTS)) {
        if (other !== tool && rel === file) return `-o ${out} would overwrite the run's ${file} (written by raftkv ${other === 'slice' ? 'trace slice' : other}); choose another file`;
      }
    }
  }
  if (existsSync(target) && statSync(target).isDirectory()) return `-o ${out} is a directory; give a file name (e.g. ${path.join(out, RUN_OUTPUTS[tool])})`;
  const parent = path.dirname(target);
  if (!existsSync(parent)) return `cannot write ${out}: no directory ${parent}`;
  if (!statSync(parent).isDirectory()) return `cannot write ${out}: ${parent} is not a directory`;
  return null;
}

/** The path with symbolic links resolved in its longest existing prefix (the rest as given). */
function real(p: string): string {
  let head = p;
  const tail: string[] = [];
  for (let i = 0; i < 256; i++) {
    try {
      return path.join(realpathSync(head), ...tail);
    } catch {
      const up = path.dirname(head);
      if (up === head) return p;
      tail.unshift(path.basename(head));
      head = up;
    }
  }
  return p;
}
