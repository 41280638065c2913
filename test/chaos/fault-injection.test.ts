import { fdatasync, openSync, closeSync, writeSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { currentFaults, setFaults } from '../../src/server/fault-injection.ts';

/** The chaos fault-injection hooks of a server process (InjectFault), in this process. */
describe('fault injection', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-faults-'));
  afterEach(async () => {
    await setFaults({ clockSkewMs: 0, fsyncDelayMs: 0 });
  });

  it('moves Date.now() by the skew and back, leaving the monotonic clock alone', async () => {
    await setFaults({ clockSkewMs: -60_000, fsyncDelayMs: 0 });
    const mono = performance.timeOrigin + performance.now();
    expect(mono - Date.now()).toBeGreaterThanOrEqual(59_000);
    await setFaults({ clockSkewMs: 0, fsyncDelayMs: 0 });
    expect(Math.abs(performance.timeOrigin + performance.now() - Date.now())).toBeLessThan(1000);
    expect(currentFaults()).toEqual({ clockSkewMs: 0, fsyncDelayMs: 0 });
  });

  it('holds fdatasync (imported by name, as the storage imports it) and FileHandle.sync by the delay', async () => {
    const file = path.join(dir, 'f');
    const fd = openSync(file, 'w');
    writeSync(fd, 'x');
    await setFaults({ clockSkewMs: 0, fsyncDelayMs: 300 });
    let t = performance.now();
    await new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    closeSync(fd);
    const handle = await open(file, 'r');
    t = performance.now();
    await handle.sync();
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a negative or huge fsync delay', async () => {
    await expect(setFaults({ clockSkewMs: 0, fsyncDelayMs: -1 })).rejects.toThrow(/fsync delay must be 0-60000 ms/);
    await expect(setFaults({ clockSkewMs: 0, fsyncDelayMs: 120_000 })).rejects.toThrow(/fsync delay/);
  });
});
