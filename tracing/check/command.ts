/**
 * A client command as the log encodes it (src/kv/command.ts: `{clientId, opId, firstUnacked,
 * ts, op}`), read from an `Apply`'s `command` or a `Commit`'s `operation` by the checkers,
 * which do not import the code they judge. Reads never enter the log.
 */
export interface ParsedCommand {
  clientId: string;
  opId: number;
  /** `<clientId>:<opId>`, as the operation's trace id. */
  id: string;
  /** The op's type: put, delete, incr, expire or mput. */
  type: string;
  /** The keys it writes (expire too). */
  writes: string[];
  /** The keys it sets to expire. */
  expires: string[];
  /**
   * What it leaves in each key when it succeeds, where the command alone says: put's value,
   * mput's (last) value for the key, "" for delete (a read of an absent key). Not for incr
   * and expire, whose effect depends on the state.
   */
  values: Map<string, string>;
}

/** A client command as the log encodes it (src/kv/command.ts), or null for a noop, a config entry or anything else. */
export function parseCommand(text: unknown): ParsedCommand | null {
  if (typeof text !== 'string' || !text.startsWith('{')) return null;
  let c: unknown;
  try {
    c = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(c) || typeof c.clientId !== 'string' || typeof c.opId !== 'number' || !isObject(c.op)) return null;
  const op = c.op;
  const base = { clientId: c.clientId, opId: c.opId, id: `${c.clientId}:${c.opId}`, type: String(op.type) };
  switch (op.type) {
    case 'put':
      return typeof op.key === 'string' && typeof op.value === 'string' ? { ...base, writes: [op.key], expires: [], values: new Map([[op.key, op.value]]) } : null;
    case 'delete':
      return typeof op.key === 'string' ? { ...base, writes: [op.key], expires: [], values: new Map([[op.key, '']]) } : null;
    case 'incr':
      return typeof op.key === 'string' ? { ...base, writes: [op.key], expires: [], values: new Map() } : null;
    case 'expire':
      return typeof op.key === 'string' ? { ...base, writes: [op.key], expires: [op.key], values: new Map() } : null;
    case 'mput': {
      if (!Array.isArray(op.pairs)) return null;
      const pairs = op.pairs.filter(isObject).map((p) => [String(p.key), String(p.value)] as [string, string]);
      return { ...base, writes: pairs.map(([k]) => k), expires: [], values: new Map(pairs) };
    }
    default:
      return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
