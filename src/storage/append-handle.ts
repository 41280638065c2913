import { closeSync, fdatasync, fstatSync, openSync, writeSync } from 'node:fs';

/**
 * A datafile's descriptor, kept open for appends and fsync. NeDB's own append opens,
 * writes and closes the file on every write, three thread-pool round trips before the
 * fsync even starts; here a write is one synchronous call into the page cache (a few
 * microseconds for a batch of lines) and the fsync is one thread-pool call.
 *
 * Compaction renames a new file over the path, after which this descriptor would reach
 * the replaced inode: forget() makes the next use reopen the path.
 */
export class AppendHandle {
  private fd: number | null = null;

  constructor(private readonly path: string) {}

  append(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    const fd = this.open();
    // A regular file takes the whole buffer at once; the loop covers a short write anyway.
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
  }

  /** Data and size reach the disk (fdatasync: what an append needs, without the mtime). */
  sync(): Promise<void> {
    const fd = this.open();
    return new Promise((resolve, reject) =>
      fdatasync(fd, (err) => {
        if (err) return reject(err);
        // Writes to a deleted file succeed and vanish with the descriptor: refuse to call
        // them durable (someone removed the data directory under the running node).
        try {
          if (fstatSync(fd).nlink === 0) return reject(new Error(`${this.path} was deleted while the node had it open`));
        } catch (statErr) {
          return reject(statErr as Error);
        }
        resolve();
      }),
    );
  }

  forget(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private open(): number {
    this.fd ??= openSync(this.path, 'a');
    return this.fd;
  }
}
