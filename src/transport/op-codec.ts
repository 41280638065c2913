import type { ClientOp } from '../kv/command.ts';
import type { WireOp } from './wire.ts';

/** The wire form of a client op; the kv layer validates sizes and limits later. */
export function opToWire(op: ClientOp): WireOp {
  switch (op.type) {
    case 'get':
      return { get: op.key };
    case 'put':
      return { put: { key: op.key, value: op.value } };
    case 'delete':
      return { delete: op.key };
    case 'incr':
      return { incr: op.key };
    case 'expire':
      return { expire: { key: op.key, ttlSeconds: op.ttlSeconds } };
    case 'mget':
      return { mget: { keys: op.keys } };
    case 'mput':
      return { mput: { pairs: op.pairs } };
  }
}

/** The op a request carries, or an error message for a request that carries none. */
export function opFromWire(w: WireOp | null | undefined): ClientOp | string {
  switch (w?.kind) {
    case 'get':
      return { type: 'get', key: w.get ?? '' };
    case 'put':
      return { type: 'put', key: w.put?.key ?? '', value: w.put?.value ?? '' };
    case 'delete':
      return { type: 'delete', key: w.delete ?? '' };
    case 'incr':
      return { type: 'incr', key: w.incr ?? '' };
    case 'expire':
      return { type: 'expire', key: w.expire?.key ?? '', ttlSeconds: w.expire?.ttlSeconds ?? 0 };
    case 'mget':
      return { type: 'mget', keys: w.mget?.keys ?? [] };
    case 'mput':
      return { type: 'mput', pairs: w.mput?.pairs ?? [] };
    default:
      return 'request has no operation (expected one of get, put, delete, incr, expire, mget, mput)';
  }
}
