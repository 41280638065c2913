import type { ClientOp, ReadOp } from './command.ts';

/** Facts about a client op that the client, the server and the UI all ask for. */

/** get and mget: a server answers them at a read index instead of logging them. */
export function isReadOp(op: ClientOp): op is ReadOp {
  return op.type === 'get' || op.type === 'mget';
}

/** The key (or keys) an op touches, as trace bodies and per-key ordering name them. */
export function opKeys(op: ClientOp): string[] {
  if (op.type === 'mget') return op.keys;
  if (op.type === 'mput') return op.pairs.map((p) => p.key);
  return [op.key];
}

/** The value a write carries, for trace bodies: put's value, or the op in short. */
export function opValue(op: ClientOp): string {
  switch (op.type) {
    case 'put':
      return op.value;
    case 'mput':
      return JSON.stringify(op.pairs.map((p) => p.value));
    case 'expire':
      return `ttl=${op.ttlSeconds}s`;
    default:
      return '';
  }
}
