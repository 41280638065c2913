import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { upConfig } from '../../src/cli/cluster-command.ts';
import { defaultConfig, writeConfig } from '../../src/server/config.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('cluster up without --config', () => {
  it('keeps the settings edited in the data directory\'s cluster.json; the servers come from the flags', () => {
    const data = path.join(mkdtempSync(path.join(os.tmpdir(), 'raftkv-upconf-')), 'data');
    dirs.push(path.dirname(data));
    expect(upConfig({ nodes: 3, basePort: 7500, dataDir: data })).toMatchObject({ kept: false, config: { compaction: { snapshotCount: 10_000 } } });
    const edited = { ...defaultConfig(5, 9000, data), compaction: { snapshotCount: 50, catchUpEntries: 10 }, memory: { quotaBytes: 5000, heapLimitMb: 128 } };
    writeConfig(path.join(data, 'cluster.json'), edited);
    const { config, kept } = upConfig({ nodes: 3, basePort: 7500, dataDir: data });
    expect(kept).toBe(true);
    expect(config.compaction).toEqual({ snapshotCount: 50, catchUpEntries: 10 });
    expect(config.memory).toEqual({ quotaBytes: 5000, heapLimitMb: 128 });
    expect(config.servers.map((s) => s.addr)).toEqual(['127.0.0.1:7500', '127.0.0.1:7501', '127.0.0.1:7502']);
  });

  it('refuses a cluster.json there that is not valid, naming the field, instead of overwriting it', () => {
    const data = path.join(mkdtempSync(path.join(os.tmpdir(), 'raftkv-upconf-')), 'data');
    dirs.push(path.dirname(data));
    writeConfig(path.join(data, 'cluster.json'), defaultConfig(3, 7500, data));
    writeFileSync(path.join(data, 'cluster.json'), JSON.stringify({ servers: [{ id: 's0', addr: '127.0.0.1:7500' }], compaction: { snapshotCount: 0 } }));
    expect(() => upConfig({ nodes: 3, basePort: 7500, dataDir: data })).toThrow(/compaction.snapshotCount must be a positive integer/);
  });
});
