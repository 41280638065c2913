import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HistoryEntry } from '../history.ts';
import { HISTORY_FILE, HISTORY_LOG, readRunHistory } from '../history-file.ts';
import { WRITING_MARKER } from '../run-writer.ts';
import { parseJsonl, type JsonlRecord, type ParseError } from '../shiviz.ts';
import { liveCut } from './live-cut.ts';
import { processExists } from '../../src/os/process-exists.ts';

/**
 * A run directory as the checker reads it: trace.jsonl (required), shiviz.log,
 * history.json and meta.json (written by scenarios). Everything but a missing or
 * unreadable trace.jsonl becomes a `problem`, which the `files` rule reports, so one
 * broken file does not hide what the others show.
 */

export interface RunMeta {
  /** The configured cluster: majorities are counted against it (unless `voters` says otherwise). */
  servers?: string[];
  /**
   * The voters before any membership change, when not all of `servers` (servers that
   * join later are in `servers` but not here). Majorities are counted against it until a
   * change commits (config-in-force.ts).
   */
  voters?: string[];
  scenario?: string;
  /**
   * Whether some server's data directory already held a Raft log or snapshot when the run
   * began (`raftkv cluster up` over an earlier run's data). The linearizability check then
   * does not assume that every key starts absent (initial-state.ts).
   */
  existingData?: boolean;
}

export interface LoadedRun {
  dir: string;
  /** trace.jsonl in file order, each with its 1-based line. */
  records: JsonlRecord[];
  /** Lines of trace.jsonl that could not be read. */
  jsonlErrors: ParseError[];
  /** shiviz.log as written, or null when the file is missing. */
  shiviz: string | null;
  /** history.json (history.jsonl while the run is written, or if its writer was killed), sorted by call; null when missing or unreadable (see problems). */
  history: HistoryEntry[] | null;
  meta: RunMeta | null;
  /** What is missing or malformed, one line each. */
  problems: string[];
  /** Set when the run was still being written: what was loaded of it (see loadRun). */
  live?: LiveCut;
  /**
   * Set when the run's tracing server stopped without closing it (killed: its
   * WRITING_MARKER names a pid that is gone): the run is graded as it was left, its
   * history from `historyFile` (history.jsonl, as far as it was flushed).
   */
  abandoned?: { pid: number; historyFile: string | null };
}

/** The consistent cut of a run still being written that the checker grades. */
export interface LiveCut {
  /** The last line of trace.jsonl graded (both files held every line up to it). */
  line: number;
  /** Records graded: those up to `line` whose causes (by vector clock) are all there too. */
  events: number;
  /** Complete lines trace.jsonl held when read. */
  total: number;
  /** Operations started in the cut but not answered in it, or not yet in history.json: not judged. */
  inFlight: number;
  /** Writes in flight whose command the cut shows: linearizability takes them as pending. */
  pending: HistoryEntry[];
}

/** trace.jsonl is missing or unreadable: nothing can be checked (the CLI exits 2). */
export class LoadError extends Error {
  override name = 'LoadError';
}

/**
 * Reads a run directory. A run still being written (its tracing server's WRITING_MARKER
 * names a live process) is read as a consistent cut (liveCut): the history first (history.jsonl, appended as entries arrive), then
 * trace.jsonl and shiviz.log up to the last line both hold whole, then only the records
 * whose causes are all in that prefix; `live` says what was cut.
 */
export function loadRun(dir: string): LoadedRun {
  const problems: string[] = [];
  const writer = writerPid(dir);
  const writing = writer !== null && processExists(writer);
  // The history before the trace: every entry read then is of an operation whose records were written earlier.
  let historyRead: ReturnType<typeof readRunHistory> = null;
  let historyProblem: string | null = null;
  try {
    historyRead = readRunHistory(dir);
  } catch (err) {
    historyProblem = (err as Error).message;
  }
  const jsonlPath = path.join(dir, 'trace.jsonl');
  let jsonl: string;
  try {
    jsonl = readFileSync(jsonlPath, 'utf8');
  } catch (err) {
    throw new LoadError(`cannot read ${jsonlPath}: ${(err as Error).message}`);
  }
  let shiviz = readOptional(path.join(dir, 'shiviz.log'));
  if (writing) {
    // Appended shiviz.log first, then trace.jsonl, record by record: keep the whole lines both hold.
    jsonl = jsonl.slice(0, jsonl.lastIndexOf('\n') + 1);
    if (shiviz !== null) {
      const lines = shiviz.split('\n');
      const whole = Math.min(jsonl.split('\n').length - 1, Math.max(0, Math.floor((lines.length - 1 - 2) / 2)));
      jsonl = jsonl.split('\n').slice(0, whole).map((l) => `${l}\n`).join('');
      shiviz = lines.slice(0, 2 + 2 * whole).join('\n') + '\n';
    }
  }
  const parsed = parseJsonl(jsonl);
  let records = parsed.records;
  const errors = parsed.errors;
  for (const e of errors) problems.push(`trace.jsonl line ${e.line}: ${e.message}`);

  if (shiviz === null) problems.push('shiviz.log is missing');

  let history: HistoryEntry[] | null = null;
  if (historyProblem !== null) problems.push(historyProblem);
  else if (historyRead === null) problems.push(`${HISTORY_FILE} is missing (and no ${HISTORY_LOG})`);
  else {
    try {
      history = parseHistory(historyRead.entries);
    } catch (err) {
      problems.push(`${historyRead.file}: ${(err as Error).message}`);
    }
  }

  let meta: RunMeta | null = null;
  const metaText = readOptional(path.join(dir, 'meta.json'));
  if (metaText !== null) {
    try {
      meta = parseMeta(JSON.parse(metaText));
    } catch (err) {
      problems.push(`meta.json: ${(err as Error).message}`);
    }
  }
  if (!writing) {
    const abandoned = writer !== null ? { abandoned: { pid: writer, historyFile: historyRead?.file ?? null } } : {};
    return { dir, records, jsonlErrors: errors, shiviz, history, meta, problems, ...abandoned };
  }
  const cut = liveCut(records, shiviz, history);
  records = cut.records;
  return { dir, records, jsonlErrors: errors, shiviz: cut.shiviz, history: cut.history, meta, problems, live: cut.live };
}

/**
 * The pid WRITING_MARKER names (the run's tracing server, while it writes the run), or
 * null when there is no marker or it names no pid. A marker whose pid is gone was left by
 * a writer that died: the run is as complete as it will get, and is graded strictly.
 */
function writerPid(dir: string): number | null {
  const text = readOptional(path.join(dir, WRITING_MARKER));
  if (text === null) return null;
  let pid: unknown;
  try {
    pid = (JSON.parse(text) as { pid?: unknown }).pid;
  } catch {
    return null;
  }
  return typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pid : null;
}

function readOptional(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new LoadError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function parseMeta(value: unknown): RunMeta {
  if (!isObject(value)) throw new Error('not a JSON object');
  const meta: RunMeta = {};
  if (value.servers !== undefined) {
    if (!Array.isArray(value.servers) || !value.servers.every((s) => typeof s === 'string' && s !== '')) {
      throw new Error('"servers" must be an array of server ids');
    }
    meta.servers = value.servers as string[];
  }
  if (value.voters !== undefined) {
    if (!Array.isArray(value.voters) || !value.voters.every((s) => typeof s === 'string' && s !== '')) {
      throw new Error('"voters" must be an array of server ids');
    }
    meta.voters = value.voters as string[];
  }
  if (value.existingData !== undefined) {
    if (typeof value.existingData !== 'boolean') throw new Error('"existingData" must be true or false');
    meta.existingData = value.existingData;
  }
  if (value.scenario !== undefined) {
    if (typeof value.scenario !== 'string') throw new Error('"scenario" must be a string');
    meta.scenario = value.scenario;
  }
  return meta;
}

/** Checks the shape the linearizability rule relies on; the first bad entry is the error. */
function parseHistory(value: unknown[]): HistoryEntry[] {
  value.forEach((e: unknown, i) => {
    const where = `entry ${i}`;
    if (!isObject(e)) throw new Error(`${where} is not an object`);
    if (typeof e.clientId !== 'string' || e.clientId === '') throw new Error(`${where}: "clientId" must be a non-empty string`);
    if (!Number.isInteger(e.opId)) throw new Error(`${where}: "opId" must be an integer`);
    if (typeof e.call !== 'number' || typeof e.return !== 'number') throw new Error(`${where}: "call" and "return" must be numbers`);
    if (!isObject(e.op) || typeof e.op.type !== 'string') throw new Error(`${where}: "op" must be an object with a "type"`);
    if (e.error === undefined) {
      if (!isObject(e.output) || typeof e.output.value !== 'string') throw new Error(`${where}: an entry without "error" needs "output": {value}`);
      if (e.output.values !== undefined && !(Array.isArray(e.output.values) && e.output.values.every((v) => typeof v === 'string'))) {
        throw new Error(`${where}: "output.values" must be an array of strings`);
      }
    } else if (typeof e.error !== 'string') throw new Error(`${where}: "error" must be a string`);
  });
  return value as HistoryEntry[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
