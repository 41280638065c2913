import { open, type FileHandle } from 'node:fs/promises';

/**
 * A descriptor kept open for fsync, so each sync costs one syscall instead of an open,
 * a sync and a close. Compaction renames a new file over the path, after which the old
 * descriptor would sync the replaced inode: forget() makes the next sync reopen.
 */
export class SyncHandle {
  private handle: Promise<FileHandle> | null = null;

  constructor(private readonly path: string) {}

  async sync(): Promise<void> {
    this.handle ??= open(this.path, 'r');
    await (await this.handle).sync();
  }

  async forget(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) await (await h).close();
  }
}
