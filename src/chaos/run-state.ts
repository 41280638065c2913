import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processExists } from '../os/process-exists.ts';
import { removeNetwork } from './netns.ts';

/**
 * Where each chaos run keeps its state file, `<runId>.json`, while it runs. A run killed
 * with SIGKILL cannot clean up: its servers may stay SIGSTOPped forever (a stopped
 * process cannot notice its parent is gone), its namespaces and temp dirs stay. The next
 * run reads the files whose owner is dead and removes what they list.
 */
export const RUNS_DIR = path.join(os.tmpdir(), 'raftkv-chaos-runs');

/** What a run made that must not outlive it. */
export interface RunState {
  /** The chaos process itself: while it lives, its state file is left alone. */
  owner: number;
  /** Server and client processes, each the leader of its own process group. */
  pids: number[];
  namespaces: string[];
  bridge: string | null;
  /** Temp dirs (data dirs), removed only when under os.tmpdir() and named raftkv-chaos-*. */
  tempDirs: string[];
}

/** The state file of one run: written on every change, removed at a clean end. */
export class RunStateFile {
  readonly file: string;
  private state: RunState = { owner: process.pid, pids: [], namespaces: [], bridge: null, tempDirs: [] };
  private last = '';

  constructor(dir = RUNS_DIR) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${process.pid}-${randomBytes(3).toString('hex')}.json`);
  }

  /** Merges `patch` into the state and writes it when it changed (sync: it must be on disk before the next step). */
  update(patch: Partial<Omit<RunState, 'owner'>>): void {
    this.state = { ...this.state, ...patch };
    const text = JSON.stringify(this.state);
    if (text === this.last) return;
    writeFileSync(`${this.file}.tmp`, text);
    rmSync(this.file, { force: true });
    writeFileSync(this.file, text);
    rmSync(`${this.file}.tmp`, { force: true });
    this.last = text;
  }

  /** The run ended cleanly: nothing is left to clean. */
  remove(): void {
    rmSync(this.file, { force: true });
  }
}

/**
 * Cleans after runs killed before their end: for each state file in `dir` whose owner
 * process is gone, SIGCONT then SIGKILL to each recorded process group that still looks
 * like ours (/proc/<pid>/cmdline names raftkv), removes its namespaces and bridge and its
 * temp dirs, then the file. Returns one line per run cleaned, saying what was removed.
 */
export function cleanLeftovers(dir = RUNS_DIR): string[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const lines: string[] = [];
  for (const f of files) {
    const file = path.join(dir, f);
    let st: RunState;
    try {
      st = JSON.parse(readFileSync(file, 'utf8')) as RunState;
    } catch {
      rmSync(file, { force: true });
      continue;
    }
    if (processExists(st.owner)) continue;
    const killed = (st.pids ?? []).filter(ours);
    for (const pid of killed) {
      for (const sig of ['SIGCONT', 'SIGKILL'] as const) {
        try {
          process.kill(-pid, sig);
        } catch {
          try {
            process.kill(pid, sig);
          } catch {
            // Gone meanwhile.
          }
        }
      }
    }
    const namespaces = st.namespaces ?? [];
    if (namespaces.length > 0 || st.bridge) removeNetwork(namespaces, st.bridge);
    const tmp = path.resolve(os.tmpdir());
    const dirs = (st.tempDirs ?? []).filter((d) => path.dirname(path.resolve(d)) === tmp && path.basename(d).startsWith('raftkv-chaos-'));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    rmSync(file, { force: true });
    const what = [
      killed.length ? `killed pids ${killed.join(', ')}` : '',
      namespaces.length ? `removed namespaces ${namespaces.join(', ')}${st.bridge ? ` and bridge ${st.bridge}` : ''}` : '',
      dirs.length ? `removed ${dirs.join(', ')}` : '',
    ].filter(Boolean);
    lines.push(`a killed run (pid ${st.owner}) left ${what.length ? `things behind: ${what.join('; ')}` : 'nothing behind'}`);
  }
  return lines;
}

/** The process exists and is one of ours (a raftkv server or client), not a stranger that took a reused pid. */
function ours(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('raftkv');
  } catch {
    return false;
  }
}
