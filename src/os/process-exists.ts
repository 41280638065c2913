/**
 * Whether a process with this pid exists: signal 0 only checks, and EPERM means it exists
 * under another user. A zombie (exited, not yet reaped by its parent) still counts, and a
 * reused pid cannot be told apart here (src/server/data-dir-lock.ts checks /proc for that).
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
