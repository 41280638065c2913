import { validateOp, type ClientOp } from '../kv/command.ts';
import { OP_ALIASES, OP_SYNTAX, parseOp } from '../kv/op-grammar.ts';

/**
 * The terminal UI's command language, as pure functions: a line becomes a command or a
 * clear error, and a partial line completes to command names and server ids. No I/O here.
 */

export type ClusterAction = 'kill' | 'restart' | 'pause' | 'resume' | 'partition';

export type TuiCommand =
  | { type: 'op'; op: ClientOp }
  | { type: 'leader' }
  | { type: 'status' }
  | { type: 'cluster'; action: ClusterAction; server: string }
  | { type: 'heal' }
  | { type: 'members' }
  | { type: 'add'; id: string; addr: string; learner: boolean }
  | { type: 'promote'; server: string }
  | { type: 'remove'; server: string }
  | { type: 'transfer'; server: string | null }
  | { type: 'trace' }
  | { type: 'help' }
  | { type: 'clear' }
  | { type: 'quit' };

type ParseResult = { ok: true; command: TuiCommand } | { ok: false; error: string };

export interface CommandSpec {
  name: string;
  /** The arguments, as the help shows them. */
  args: string;
  summary: string;
  group: 'data' | 'cluster' | 'members' | 'ui';
  /** The arguments as the help screen shows them, when the full form is too wide for it. */
  helpArgs?: string;
  /** The argument is a server id (completion offers the ids). */
  takesServer?: boolean;
  /** Only for a cluster this UI launched. */
  launchedOnly?: boolean;
}

export const COMMANDS: readonly CommandSpec[] = [
  // The data operations and their arguments are the shared grammar's (src/kv/op-grammar.ts).
  ...OP_SYNTAX.map((o): CommandSpec => ({ name: o.name, args: o.args, summary: o.summary, group: 'data' })),
  { name: 'leader', args: '', summary: 'who leads', group: 'cluster' },
  { name: 'status', args: '', summary: 'servers, pids', group: 'cluster' },
  { name: 'kill', args: '<server>', summary: 'kill -9 it', group: 'cluster', takesServer: true, launchedOnly: true },
  { name: 'restart', args: '<server>', summary: 'start it again', group: 'cluster', takesServer: true, launchedOnly: true },
  { name: 'pause', args: '<server>', summary: 'SIGSTOP it', group: 'cluster', takesServer: true, launchedOnly: true },
  { name: 'resume', args: '<server>', summary: 'SIGCONT it', group: 'cluster', takesServer: true, launchedOnly: true },
  { name: 'partition', args: '<server>', summary: 'cut it off', group: 'cluster', takesServer: true, launchedOnly: true },
  { name: 'heal', args: '', summary: 'reconnect all', group: 'cluster', launchedOnly: true },
  // Membership (Raft §6) goes through the leader, so it works attached as well as launched.
  { name: 'members', args: '', summary: 'voters, learners', group: 'members' },
  { name: 'add', args: '<id> <host:port> [--learner]', helpArgs: '<id> <host:port>', summary: 'join, then vote', group: 'members' },
  { name: 'promote', args: '<server>', summary: 'learner -> voter', group: 'members', takesServer: true },
  { name: 'remove', args: '<server>', summary: 'leave the cluster', group: 'members', takesServer: true },
  { name: 'transfer', args: '[<server>]', summary: 'hand over the lead', group: 'members', takesServer: true },
  { name: 'trace', args: '', summary: 'trace files', group: 'ui' },
  { name: 'help', args: '', summary: 'this help', group: 'ui' },
  { name: 'clear', args: '', summary: 'clear results', group: 'ui' },
  { name: 'quit', args: '', summary: 'stop and exit', group: 'ui' },
];

const ALIASES: Record<string, string> = { ...OP_ALIASES, exit: 'quit', q: 'quit', '?': 'help', h: 'help', cls: 'clear' };

const COMMAND_NAMES: readonly string[] = COMMANDS.map((c) => c.name);

function spec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function usageOf(name: string): string {
  const s = spec(name);
  return s ? `${s.name}${s.args ? ` ${s.args}` : ''}` : name;
}

/**
 * Splits a line into words. "double" and 'single' quotes keep spaces (put k "a b"); in
 * double quotes a backslash escapes the next character. An open quote is an error.
 */
export function tokenize(line: string): { ok: true; tokens: string[] } | { ok: false; error: string } {
  const tokens: string[] = [];
  let cur = '';
  let inToken = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) tokens.push(cur);
      cur = '';
      inToken = false;
    } else {
      cur += ch;
      inToken = true;
    }
  }
  if (quote) return { ok: false, error: `unclosed ${quote === '"' ? 'double' : 'single'} quote` };
  if (inToken) tokens.push(cur);
  return { ok: true, tokens };
}

/** A line as a command, or an error that says what was expected. null for a blank line. */
export function parseCommand(line: string, serverIds: readonly string[]): ParseResult | null {
  const t = tokenize(line);
  if (!t.ok) return { ok: false, error: t.error };
  if (t.tokens.length === 0) return null;
  const [word, ...args] = t.tokens;
  const name = ALIASES[word.toLowerCase()] ?? word.toLowerCase();
  const s = spec(name);
  if (!s) {
    const close = COMMAND_NAMES.filter((c) => c.startsWith(name.slice(0, 2)));
    return fail(`unknown command "${word}"${close.length > 0 ? ` (did you mean ${close.join(' or ')}?)` : ''}; type help for the list`);
  }
  if (s.group === 'data') {
    const parsed = parseOp(name, args);
    if (!parsed.ok) return fail(parsed.error);
    // The limits too, before sending: a mistake shows at once, not after a round trip.
    const invalid = validateOp(parsed.op);
    return invalid === null ? { ok: true, command: { type: 'op', op: parsed.op } } : fail(`${name}: ${invalid}`);
  }
  switch (name) {
    case 'kill':
    case 'restart':
    case 'pause':
    case 'resume':
    case 'partition': {
      if (args.length !== 1) return fail(`${name} takes a server id (usage: ${usageOf(name)}; servers: ${serverIds.join(', ')})`);
      const server = resolveServer(args[0], serverIds);
      if (server === null) return fail(`unknown server "${args[0]}" (servers: ${serverIds.join(', ')})`);
      return { ok: true, command: { type: 'cluster', action: name, server } };
    }
    case 'add':
      return parseAdd(args);
    case 'promote':
    case 'remove': {
      if (args.length !== 1) return fail(`${name} takes a server id (usage: ${usageOf(name)}; servers: ${serverIds.join(', ')})`);
      const server = resolveMember(args[0], serverIds);
      if (server === null) return fail(`unknown server "${args[0]}" (servers: ${serverIds.join(', ')})`);
      return { ok: true, command: { type: name, server } };
    }
    case 'transfer': {
      if (args.length > 1) return fail(`transfer takes at most a server id (usage: ${usageOf(name)})`);
      if (args.length === 0) return { ok: true, command: { type: 'transfer', server: null } };
      const server = resolveMember(args[0], serverIds);
      if (server === null) return fail(`unknown server "${args[0]}" (servers: ${serverIds.join(', ')})`);
      return { ok: true, command: { type: 'transfer', server } };
    }
    default:
      if (args.length > 0) return fail(`${name} takes no arguments (usage: ${usageOf(name)})`);
      return { ok: true, command: { type: name } as TuiCommand };
  }
}

/** What a server id may look like: it starts with a letter, so that a bare number can stand for one. */
const ID_SHAPE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** `add <id> <host:port> [--learner]`, the flag anywhere after the command. */
function parseAdd(args: readonly string[]): ParseResult {
  const usage = `usage: ${usageOf('add')}`;
  const flags = args.filter((a) => a.startsWith('--'));
  const rest = args.filter((a) => !a.startsWith('--'));
  const bad = flags.find((f) => f !== '--learner');
  if (bad !== undefined) return fail(`add: unknown option "${bad}" (${usage})`);
  if (rest.length !== 2) return fail(`add takes a new server's id and address (${usage})`);
  const [id, addr] = rest;
  if (!ID_SHAPE.test(id)) return fail(`add: "${id}" is not a server id (a letter, then letters, digits, _ . -; e.g. server5)`);
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(addr);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) return fail(`add: "${addr}" is not host:port (e.g. 127.0.0.1:7105)`);
  return { ok: true, command: { type: 'add', id, addr, learner: flags.length > 0 } };
}

/**
 * A server for promote/remove/transfer: a known id or its number, or an id not seen yet
 * (the configuration is the leader's to judge, and it may know a member this UI has not
 * polled). A bare number must match a known server.
 */
function resolveMember(word: string, ids: readonly string[]): string | null {
  return resolveServer(word, ids) ?? (ID_SHAPE.test(word) ? word : null);
}

/** An id as typed, or a bare number for the server whose id ends in it ("2" -> server2). */
function resolveServer(word: string, ids: readonly string[]): string | null {
  if (ids.includes(word)) return word;
  if (/^\d+$/.test(word)) {
    const matches = ids.filter((id) => id.replace(/^\D+/, '') === word);
    if (matches.length === 1) return matches[0];
  }
  return null;
}

function fail(error: string): ParseResult {
  return { ok: false, error };
}

export interface Completion {
  /** The line with the completion applied (unchanged if nothing to add). */
  line: string;
  /** What could follow when more than one thing fits. */
  options: string[];
}

/**
 * Tab completion at the end of the line: the command name in the first word, a server id
 * in the second word of kill/restart/pause/resume/partition/promote/remove/transfer. The common prefix of the
 * matches is filled in; a single match also gets a trailing space.
 */
export function complete(line: string, serverIds: readonly string[]): Completion {
  const lead = line.match(/^\s*/)![0];
  const body = line.slice(lead.length);
  const words = body.split(/\s+/);
  let candidates: readonly string[];
  let partial: string;
  if (words.length === 1) {
    partial = words[0].toLowerCase();
    candidates = COMMAND_NAMES;
  } else if (words.length === 2 && spec(ALIASES[words[0].toLowerCase()] ?? words[0].toLowerCase())?.takesServer) {
    partial = words[1];
    candidates = serverIds;
  } else {
    return { line, options: [] };
  }
  const matches = candidates.filter((c) => c.startsWith(partial));
  if (matches.length === 0) return { line, options: [] };
  const prefix = commonPrefix(matches);
  const head = line.slice(0, line.length - partial.length);
  if (matches.length === 1) return { line: `${head}${matches[0]} `, options: [] };
  return { line: `${head}${prefix.length > partial.length ? prefix : partial}`, options: matches };
}

function commonPrefix(xs: readonly string[]): string {
  let p = xs[0];
  for (const x of xs) while (!x.startsWith(p)) p = p.slice(0, -1);
  return p;
}
