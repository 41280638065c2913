import type { ClientOp } from '../kv/command.ts';
import type { Rng } from '../raft/rng.ts';

/**
 * The operations chaos clients send: get, put, incr and mput over a few keys (k0..k<n-1>),
 * so that concurrent operations meet on the same keys, as etcd's robustness traffic does.
 * Put values are integers unique to the client and operation (client c's n-th op writes
 * (c+1)*10^7 + n*1000), so a read names the write it saw and incr always has a number
 * to add to; incr moves a value by 1, far from the next client's range.
 */
export function nextOp(rng: Rng, client: number, seq: number, keys: number): ClientOp {
  const key = () => `k${rng.int(0, keys)}`;
  const value = () => String((client + 1) * 10_000_000 + seq * 1000);
  const r = rng.next();
  if (r < 0.4) return { type: 'get', key: key() };
  if (r < 0.7) return { type: 'put', key: key(), value: value() };
  if (r < 0.87) return { type: 'incr', key: key() };
  const first = rng.int(0, keys);
  const second = (first + 1 + rng.int(0, Math.max(1, keys - 1))) % keys;
  const v = value();
  return { type: 'mput', pairs: first === second ? [{ key: `k${first}`, value: v }] : [{ key: `k${first}`, value: v }, { key: `k${second}`, value: v }] };
}

/** Operations that write (the ones whose acknowledgement must never be lost). */
export function isWrite(op: ClientOp): boolean {
  return op.type === 'put' || op.type === 'incr' || op.type === 'mput' || op.type === 'delete';
}
