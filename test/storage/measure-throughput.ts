/**
 * Save throughput on this machine's disk: `npx tsx test/storage/measure-throughput.ts [saves]`.
 * Each save is one entry plus a hard state, as a follower's AppendEntries would be.
 * Not a test (vitest runs *.test.ts only): fsync speed is the disk's, not ours to assert.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftStorage } from '../../src/storage/raft-storage.ts';

const saves = Number(process.argv[2] ?? 2_000);

async function measure(inFlight: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-throughput-'));
  let fsyncs = 0;
  const store = await RaftStorage.open(dir, { onEvent: (e) => void (e.type === 'fsync' && fsyncs++) });
  const started = performance.now();
  const running = new Set<Promise<void>>();
  for (let index = 1; index <= saves; index++) {
    const saved = store.save({ term: 1, votedFor: 'n1', commitIndex: index - 1 }, [
      { index, term: 1, kind: 'command', data: `put key-${index} ${'v'.repeat(64)}` },
    ]);
    const tracked = saved.then(() => void running.delete(tracked));
    running.add(tracked);
    if (running.size >= inFlight) await Promise.race(running);
  }
  await Promise.all(running);
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  const reopened = await RaftStorage.open(dir);
  if (reopened.lastIndex() !== saves) throw new Error(`expected ${saves} entries, found ${reopened.lastIndex()}`);
  await reopened.close();
  await rm(dir, { recursive: true, force: true });
  console.log(`${String(inFlight).padStart(2)} in flight: ${(saves / seconds).toFixed(0)} saves/s (${saves} saves in ${seconds.toFixed(2)} s, ${fsyncs} fsyncs)`);
}

await measure(1);
await measure(32);
