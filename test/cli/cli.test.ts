import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ClientError } from '../../src/client/kv-client.ts';
import { killCliChildren, runRaftkv, startTestCluster, type CliResult, type TestCluster } from '../integration/helpers.ts';


let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'raftkv-cli-'));
});

/** Client state (--client-id, unknown outcomes) goes to the test's temp dir, never ~/.local/state. */
function raftkv(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  return runRaftkv(args, { timeoutMs, env: { RAFTKV_STATE_DIR: path.join(tmp, 'state') } });
}
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});
afterEach(() => {
  // Only a hung CLI is left here; stop it by pid.
  killCliChildren();
});

function configFile(name: string, text: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
}

describe('raftkv CLI usage errors (exit 2)', () => {
  it('an unknown command prints usage on stderr', async () => {
    const r = await raftkv(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
    expect(r.stderr).toContain('raftkv - a traced Raft key-value store');
    expect(r.stderr).toContain('raftkv put <key> <value>');
    expect(r.stdout).toBe('');
  });

  it('a bad argument prints what was wrong and where help is, not the whole usage', async () => {
    const r = await raftkv(['check']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('check takes one run directory');
    expect(r.stderr).toContain('raftkv --help');
    expect(r.stderr).not.toContain('raftkv - a traced Raft key-value store');
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
  });

  it('put with a missing value says what put takes', async () => {
    const r = await raftkv(['put', 'onlykey']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('raftkv: put takes <key> <value>');
  });

  it('a bad --nodes is refused before anything starts', async () => {
    const r = await raftkv(['cluster', 'up', '--nodes', 'abc', '--data', path.join(tmp, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--nodes must be a positive integer (got "abc")');
  });

  it('other bad arguments: unknown flag, bad --timeout, bad expire seconds', async () => {
    const flag = await raftkv(['get', 'k', '--bogus']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('raftkv: unknown option --bogus (an argument that starts with "-" goes after a "--": ... -- --bogus)');
    // Every quote the message opens, it closes.
    expect(flag.stderr.split('\n')[0].split('"').length % 2).toBe(1);
    const timeout = await raftkv(['get', 'k', '--timeout', '0']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain('--timeout must be a positive integer (got "0")');
    const expire = await raftkv(['expire', 'k', 'soon']);
    expect(expire.code).toBe(2);
    expect(expire.stderr).toContain('expire: seconds must be a positive number (got "soon")');
    // A negative number is an argument, not an unknown option.
    const negative = await raftkv(['expire', 'k1', '-5']);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toContain('expire: seconds must be a positive number (got "-5")');
    const negativeTimeout = await raftkv(['get', 'k', '--timeout', '-5']);
    expect(negativeTimeout.code).toBe(2);
    expect(negativeTimeout.stderr).toContain('--timeout must be a positive integer (got "-5")');
  });

  it('mput with a key given twice is refused before anything is sent', async () => {
    const r = await raftkv(['mput', 'a=1', 'b=2', 'a=3', '--config', configFile('unused.json', '{"servers":[{"id":"s0","addr":"127.0.0.1:1"}]}')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('raftkv: mput: key "a" is given twice; give each key once');
  });

  it('cluster up refuses a --base-port whose ports would run past 65535, naming the range', async () => {
    const dir = path.join(tmp, 'never-up');
    for (const [args, message] of [
      [['--base-port', '99999'], '--base-port must be 1-65529 for 7 nodes'],
      [['--base-port', '65534', '--nodes', '7'], '--base-port must be 1-65529 for 7 nodes (their ports run from it to it + 6, at most 65535; got 65534)'],
      [['--base-port', '65535', '--nodes', '2'], '--base-port must be 1-65534 for 2 nodes'],
    ] as const) {
      const r = await raftkv(['cluster', 'up', ...args, '--data', dir, '--no-trace']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });
});

describe('raftkv CLI with nothing listening', () => {
  it('gives up within --timeout, not a connect timeout per server', async () => {
    // Ports held by listeners that drop every connection: free ports could be taken by a
    // cluster of a test running in parallel, and this client would then get an answer.
    const holders = await Promise.all(
      Array.from({ length: 7 }, () => new Promise<net.Server>((resolve) => {
        const s = net.createServer((sock) => sock.destroy());
        s.listen(0, '127.0.0.1', () => resolve(s));
      })),
    );
    const ports = holders.map((h) => (h.address() as net.AddressInfo).port);
    const file = configFile('down.json', JSON.stringify({ servers: ports.map((p, i) => ({ id: `s${i}`, addr: `127.0.0.1:${p}` })) }));
    const started = Date.now();
    const r = await raftkv(['get', 'k', '--config', file, '--timeout', '1500']).finally(() => holders.forEach((h) => h.close()));
    const ms = Date.now() - started;
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('no server answered within 1500 ms');
    expect(r.stderr).toContain('no majority: 0 of 7 servers reachable, 4 needed');
    // Process start-up (tsx) included; trying the 7 servers in turn took 7 x 1.5 s.
    expect(ms).toBeLessThan(6000);
  });

  it('an unknown --server is a usage error', async () => {
    const file = configFile('one.json', JSON.stringify({ servers: [{ id: 'a', addr: '127.0.0.1:1' }] }));
    const r = await raftkv(['get', 'k', '--config', file, '--server', 'zz']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--server zz is neither in the config (servers: a) nor a member the cluster lists');
  });
});

describe('raftkv CLI config errors (exit 2)', () => {
  it('a config that is not JSON', async () => {
    const file = configFile('not-json.json', '{ servers: [oops');
    const r = await raftkv(['get', 'k', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`config ${file} is not valid JSON`);
  });

  it('a config with a duplicate server id', async () => {
    const file = configFile(
      'dup.json',
      JSON.stringify({ servers: [{ id: 'a', addr: '127.0.0.1:1' }, { id: 'a', addr: '127.0.0.1:2' }] }),
    );
    const r = await raftkv(['status', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: server id "a" appears twice`);
  });

  it('a config with a bad address', async () => {
    const file = configFile('addr.json', JSON.stringify({ servers: [{ id: 'a', addr: 'localhost:99999' }] }));
    const r = await raftkv(['put', 'k', 'v', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: servers[0].addr must be host:port with a port 1-65535 (got "localhost:99999")`);
  });

  it('a config file that does not exist', async () => {
    const file = path.join(tmp, 'missing.json');
    const r = await raftkv(['get', 'k', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot read config ${file}`);
  });
});

describe('raftkv CLI against a running cluster', () => {
  let tc: TestCluster;
  let config: string;
  beforeAll(async () => {
    tc = await startTestCluster(3);
    config = path.join(tc.dir, 'cluster.json');
    await tc.cluster.waitForLeader();
  });
  afterAll(async () => {
    await tc?.teardown();
  });

  it('get prints the value and exits 0', async () => {
    const c = await tc.client();
    await c.put('cli-key', 'from the client');
    const r = await raftkv(['get', 'cli-key', '--config', config, '--server', 'server2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('from the client\n');
  });

  it('put, incr, mget and a failing incr', async () => {
    expect(await raftkv(['put', 'cli-put', 'v1', '--config', config])).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await raftkv(['incr', 'cli-n', '--config', config])).toMatchObject({ code: 0, stdout: '1\n' });
    expect(await raftkv(['mget', 'cli-put', 'cli-n', 'cli-none', '--config', config])).toMatchObject({ code: 0, stdout: 'cli-put\tv1\ncli-n\t1\ncli-none\t\n' });
    const failed = await raftkv(['incr', 'cli-put', '--config', config]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toBe('raftkv: failed, nothing was changed: incr: the value of "cli-put" is not a base-10 integer\n');
  });

  it('what put, del, expire and mput print (as usage documents)', async () => {
    // A 64 KiB value is not echoed back: put prints OK.
    expect(await raftkv(['put', 'cli-big', 'v'.repeat(64 * 1024), '--config', config])).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await raftkv(['del', 'cli-big', '--config', config])).toMatchObject({ code: 0, stdout: `${'v'.repeat(64 * 1024)}\n` });
    expect(await raftkv(['del', 'cli-big', '--config', config])).toMatchObject({ code: 0, stdout: '\n' });
    expect(await raftkv(['mput', 'cli-a=1', 'cli-b=2', '--config', config])).toMatchObject({ code: 0, stdout: '2\n' });
    expect(await raftkv(['expire', 'cli-a', '300', '--config', config])).toMatchObject({ code: 0, stdout: '1\n' });
    expect(await raftkv(['expire', 'cli-none', '300', '--config', config])).toMatchObject({ code: 0, stdout: '0\n' });
  });

  it('--json prints one line of JSON that keeps values with newlines and tabs apart', async () => {
    const tricky = 'line one\nk2\tv2';
    expect(await raftkv(['put', 'cli-j1', tricky, '--config', config, '--json'])).toMatchObject({ code: 0, stdout: '{"op":"put","value":"OK"}\n' });
    const get = await raftkv(['get', 'cli-j1', '--config', config, '--json']);
    expect(get.code, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({ op: 'get', value: tricky });
    const mget = await raftkv(['mget', 'cli-j1', 'cli-j2', '--config', config, '--json']);
    expect(mget.stdout.split('\n')).toHaveLength(2); // one line, then the final newline
    expect(JSON.parse(mget.stdout)).toEqual({ op: 'mget', values: { 'cli-j1': tricky, 'cli-j2': '' } });
    // The text form cannot tell this value's newline and tab from the next key's line.
    expect((await raftkv(['mget', 'cli-j1', 'cli-j2', '--config', config])).stdout).toBe(`cli-j1\t${tricky}\ncli-j2\t\n`);
  });

  it('the servers refuse invalid input the same way: errorKind "refused", not an unknown outcome', async () => {
    const c = await tc.client();
    const err = await c.put('k'.repeat(600), 'v').catch((e: ClientError) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).outcome).toMatchObject({ errorKind: 'refused', error: 'key is 600 bytes; the limit is 512' });
  });

  it('status prints a row per server and one leader they all agree on', async () => {
    const leader = await tc.cluster.waitForLeader();
    const r = await raftkv(['status', '--config', config]);
    expect(r.code).toBe(0);
    const [header, ...rows] = r.stdout.trimEnd().split('\n').map((line) => line.trim().split(/\s+/));
    expect(header).toEqual(['server', 'addr', 'role', 'term', 'leader', 'commit', 'applied', 'last', 'snap', 'log', 'mem', 'pid', 'stall']);
    expect(rows.map((row) => row[0])).toEqual(tc.cluster.ids);
    for (const row of rows) {
      const s = tc.config.servers.find((x) => x.id === row[0])!;
      expect(row[1]).toBe(s.addr);
      expect(row[2]).toBe(row[0] === leader ? 'leader' : 'follower');
      expect(row[4]).toBe(leader);
      // No snapshot yet; the log holds what was applied (entries/bytes on disk); memory in MiB.
      expect(row[8]).toBe('0');
      expect(row[9]).toMatch(/^\d+\/[\d.]+(B|KiB|MiB)$/);
      expect(row[10]).toMatch(/^\d+MiB$/);
      expect(Number(row[11])).toBe(tc.cluster.pid(row[0]));
      // Longest event-loop stall in ms, recent/since start: an idle server's is far below its election timeout.
      const [recent, worst] = row[12].split('/').map(Number);
      expect(Number.isInteger(recent) && Number.isInteger(worst) && recent <= worst).toBe(true);
    }
  });

  it('status marks a stopped server as down', async () => {
    const victim = tc.cluster.ids.find((id) => id !== 'server0')!;
    await tc.cluster.kill(victim);
    const r = await raftkv(['status', '--config', config]);
    expect(r.code).toBe(0);
    const row = r.stdout.split('\n').find((line) => line.startsWith(victim));
    expect(row?.split(/\s+/)).toEqual([victim, tc.config.servers.find((s) => s.id === victim)!.addr, 'down']);
    // --server naming the dead server falls back to one that answers.
    const started = Date.now();
    const got = await raftkv(['get', 'cli-key', '--config', config, '--server', victim, '--timeout', '10000']);
    expect(got).toMatchObject({ code: 0, stdout: 'from the client\n' });
    // 2 s for the named server, then the next: nothing waits out the 10 s --timeout.
    expect(Date.now() - started).toBeLessThan(7000);
  });
});
