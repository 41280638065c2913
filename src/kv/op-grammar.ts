import type { ClientOp } from './command.ts';

/**
 * The text form of the client operations, one grammar for the CLI (`raftkv put k v`) and
 * the terminal UI (`put k v`): the same words, the same checks, the same error messages.
 * It checks the form only (how many arguments, a number of seconds, key=value pairs); the
 * limits on keys, values and batches are validateOp's (command.ts), which every server
 * applies and the UI also applies before sending.
 */

type OpName = 'get' | 'put' | 'del' | 'incr' | 'expire' | 'mget' | 'mput';

interface OpSyntax {
  name: OpName;
  /** The arguments, as usage and help show them. */
  args: string;
  summary: string;
}

/** A plain decimal number of seconds: digits, an optional fraction, an optional exponent. */
const DECIMAL = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Every operation, in the order help lists them. */
export const OP_SYNTAX: readonly OpSyntax[] = [
  { name: 'get', args: '<key>', summary: 'read a key' },
  { name: 'put', args: '<key> <value>', summary: 'write a key' },
  { name: 'del', args: '<key>', summary: 'delete a key' },
  { name: 'incr', args: '<key>', summary: 'add 1 (from 0)' },
  { name: 'expire', args: '<key> <seconds>', summary: 'delete later' },
  { name: 'mget', args: '<key>...', summary: 'read keys' },
  { name: 'mput', args: '<key>=<value>...', summary: 'write together' },
];

/** Other words for an operation. */
export const OP_ALIASES: Readonly<Record<string, OpName>> = { delete: 'del' };

type OpParse = { ok: true; op: ClientOp } | { ok: false; error: string };

/** The operation a word names (an alias gives its operation), or null. Exact: callers that accept any case lower it first. */
export function opName(word: string): OpName | null {
  if (Object.hasOwn(OP_ALIASES, word)) return OP_ALIASES[word];
  return OP_SYNTAX.some((s) => s.name === word) ? (word as OpName) : null;
}

/**
 * An operation from its word and arguments (`put`, [`k`, `v`]), or the message that says
 * what is wrong, e.g. `put takes <key> <value> (usage: put <key> <value>)`. Never throws.
 */
export function parseOp(word: string, args: readonly string[]): OpParse {
  const name = opName(word);
  if (name === null) return fail(`unknown operation "${word}" (operations: ${OP_SYNTAX.map((s) => s.name).join(', ')})`);
  const syntax = OP_SYNTAX.find((s) => s.name === name)!;
  const wrongArgs = () => fail(`${name} takes ${syntax.args} (usage: ${name} ${syntax.args})`);
  switch (name) {
    case 'get':
    case 'incr':
      return args.length === 1 ? ok({ type: name, key: args[0] }) : wrongArgs();
    case 'del':
      return args.length === 1 ? ok({ type: 'delete', key: args[0] }) : wrongArgs();
    case 'put':
      return args.length === 2 ? ok({ type: 'put', key: args[0], value: args[1] }) : wrongArgs();
    case 'expire': {
      if (args.length !== 2) return wrongArgs();
      // Decimal only: Number() also reads '0x10', '0b11', ' 7' and '' (as 0), which no one
      // means as seconds.
      const ttl = DECIMAL.test(args[1]) ? Number(args[1]) : NaN;
      if (!Number.isFinite(ttl) || ttl <= 0) return fail(`expire: seconds must be a positive number (got "${args[1]}")`);
      return ok({ type: 'expire', key: args[0], ttlSeconds: ttl });
    }
    case 'mget':
      return args.length > 0 ? ok({ type: 'mget', keys: [...args] }) : wrongArgs();
    case 'mput': {
      if (args.length === 0) return wrongArgs();
      const pairs = [];
      for (const a of args) {
        // The first "=" splits, so a value may hold "=" ("b==2" is b -> "=2"); a key may not be empty.
        const eq = a.indexOf('=');
        if (eq <= 0) return fail(`mput: "${a}" is not <key>=<value>`);
        pairs.push({ key: a.slice(0, eq), value: a.slice(eq + 1) });
      }
      return ok({ type: 'mput', pairs });
    }
  }
}

function ok(op: ClientOp): OpParse {
  return { ok: true, op };
}

function fail(error: string): OpParse {
  return { ok: false, error };
}
