import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../src/kv/command.ts';
import { EntryTooLargeError } from '../../src/server/errors.ts';
import { RaftNode } from '../../src/server/raft-node.ts';
import { RaftStorage } from '../../src/storage/raft-storage.ts';
import { tempDir } from '../storage/helpers.ts';

describe('RaftNode.propose', () => {
  it('refuses an entry bigger than one message may carry, with both sizes, and proposes nothing', async () => {
    const storage = await RaftStorage.open(await tempDir());
    const node = new RaftNode({ id: 'solo', peers: ['solo'], storage, timing: { tickMs: 5, electionTick: 4, heartbeatTick: 1 }, send: () => undefined, maxEntryBytes: 10_000, onFatal: (e) => { throw e; } });
    node.start();
    try {
      await new Promise<void>((resolve) => {
        const check = () => (node.isLeader ? resolve() : setTimeout(check, 5));
        check();
      });
      const command = (value: string) => encodeCommand({ clientId: 'c', opId: 1, firstUnacked: 1, ts: 1, op: { type: 'put', key: 'k', value } });
      const before = node.raft.status().lastIndex;
      // 2,000 NULs are 12,000 bytes of JSON: over the limit, though 2,000 characters.
      const err = await node.propose(command('\u0000'.repeat(2_000))).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(EntryTooLargeError);
      expect((err as EntryTooLargeError).limit).toBe(10_000);
      expect((err as EntryTooLargeError).bytes).toBeGreaterThan(12_000);
      expect((err as Error).message).toMatch(/^the command is [\d,]+ bytes once encoded for the log; the limit is 10,000 bytes/);
      expect(node.raft.status().lastIndex).toBe(before);
      const ok = await node.propose(command('x'.repeat(2_000)));
      expect(ok?.result).toEqual({ ok: true, value: 'x'.repeat(2_000) });
    } finally {
      await node.stop();
      await storage.close();
    }
  });
});
