import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The last `n` non-empty lines of a file (from its last 16 KiB). */
export function lastLines(file: string, n: number): string[] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 16_384);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8').split('\n').map((l) => l.trimEnd()).filter((l) => l !== '').slice(-n);
  } finally {
    closeSync(fd);
  }
}
