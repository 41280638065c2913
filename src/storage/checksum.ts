import zlib from 'node:zlib';

/**
 * CRC-32 (IEEE, as zlib, etcd's WAL and LogCabin's segments compute it) of `input`
 * (a string as UTF-8, or raw bytes), continuing from `initial`. Node's zlib.crc32
 * (20.15+) when present, else a table in JavaScript.
 */
export function crc32(input: string | Uint8Array, initial = 0): number {
  if (native) return native(input, initial);
  return tableCrc32(typeof input === 'string' ? Buffer.from(input, 'utf8') : input, initial);
}

const native = (zlib as { crc32?: (data: string | Uint8Array, value?: number) => number }).crc32;

let table: Uint32Array | null = null;

function tableCrc32(bytes: Uint8Array, initial: number): number {
  table ??= Uint32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = ~initial >>> 0;
  for (const b of bytes) crc = table[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}
