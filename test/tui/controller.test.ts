import { describe, expect, it } from 'vitest';
import { stateLabel } from '../../src/tui/cluster-text.ts';
import type { ResultEntry } from '../../src/tui/state.ts';
import { findLeader } from '../../src/tui/status-poller.ts';
import { plainResult, resultLines } from '../../src/tui/format.ts';
import { fixture } from './fakes.ts';

const last = (f: ReturnType<typeof fixture>): ResultEntry => f.controller.getSnapshot().results.at(-1)!;

describe('Controller: client operations', () => {
  it('runs put and get and records opId, value, server and latency', async () => {
    const f = fixture();
    await f.controller.run('put k1 hello');
    expect(last(f)).toMatchObject({ kind: 'op', input: 'put k1 hello', pending: false, opId: 1, value: 'hello', servedBy: 'server1', latencyMs: 3.25 });
    await f.controller.run('get k1');
    expect(last(f)).toMatchObject({ opId: 2, value: 'hello' });
    await f.controller.run('mget k1 nope');
    expect(last(f).pairs).toEqual([{ key: 'k1', value: 'hello' }, { key: 'nope', value: '' }]);
    await f.controller.run('mput a=1 b=2');
    expect(last(f).value).toBe('2');
    await f.controller.run('incr a');
    expect(last(f).value).toBe('2');
    await f.controller.run('del a');
    expect(last(f).value).toBe('2');
    await f.controller.run('expire b 10');
    expect(last(f).value).toBe('1');
  });

  it('shows an operation as pending until it answers', async () => {
    const f = fixture();
    let release!: () => void;
    f.kv.gate = new Promise((r) => (release = r));
    const done = f.controller.run('put k v');
    await new Promise((r) => setTimeout(r, 10));
    expect(last(f)).toMatchObject({ pending: true, kind: 'op' });
    expect(resultLines(last(f), 80)[0].text).toContain('waiting...');
    release();
    await done;
    expect(last(f)).toMatchObject({ pending: false, value: 'v' });
  });

  it('turns a failed operation into a red error entry', async () => {
    const f = fixture();
    await f.controller.run('put k text');
    await f.controller.run('incr k');
    expect(last(f)).toMatchObject({ kind: 'error', opId: 2, message: 'incr: the value of "k" is not a base-10 integer' });
    expect(resultLines(last(f), 80).every((l) => l.tone === 'red')).toBe(true);
  });

  it('bad input is an error entry, never an exception', async () => {
    const f = fixture();
    for (const line of ['frob', 'get', 'put "x', 'kill nobody', 'expire k -1', '\u0000\u0001', 'mput =']) await f.controller.run(line);
    const results = f.controller.getSnapshot().results;
    expect(results.map((r) => r.kind)).toEqual(Array(7).fill('error'));
    expect(results[0].message).toContain('unknown command "frob"');
    expect(f.kv.opId).toBe(0);
  });

  it('a cluster it cannot reach is an error, and the next operation tries again', async () => {
    let attempts = 0;
    const f = fixture({
      connect: async () => {
        attempts++;
        if (attempts === 1) throw new Error('no server reachable among server0@127.0.0.1:7100');
        return f.kv;
      },
    });
    await f.controller.run('get k');
    expect(last(f)).toMatchObject({ kind: 'error', message: 'cannot reach the cluster: no server reachable among server0@127.0.0.1:7100' });
    await f.controller.run('put k v');
    expect(last(f)).toMatchObject({ kind: 'op', value: 'v' });
    expect(attempts).toBe(2);
  });
});

describe('Controller: the cluster panel', () => {
  it('polls every server and marks the leader', async () => {
    const f = fixture();
    await f.controller.pollOnce();
    const snap = f.controller.getSnapshot();
    expect(snap.leader).toEqual({ id: 'server1', term: 2 });
    expect(snap.rows.map((r) => [r.id, r.liveness, r.status?.role])).toEqual([
      ['server0', 'up', 'follower'],
      ['server1', 'up', 'leader'],
      ['server2', 'up', 'follower'],
    ]);
  });

  it('picks the leader of the highest term when a stale one still claims it', () => {
    const row = (id: string, role: string, term: number) => ({ id, addr: '', liveness: 'up' as const, fresh: true, blocked: [], status: { serverId: id, role, term, leaderId: '', commitIndex: 0, appliedIndex: 0, lastLogIndex: 0, peers: [], lastContactMs: 0, pid: 1, loopStallMs: 0, loopStallWorstMs: 0, snapshotIndex: 0, firstLogIndex: 1, logBytes: 0, rssBytes: 0, heapUsedBytes: 0 } });
    expect(findLeader([row('a', 'leader', 3), row('b', 'leader', 5), row('c', 'follower', 5)])).toEqual({ id: 'b', term: 5 });
    expect(findLeader([row('a', 'candidate', 3)])).toBeNull();
  });
});

describe('Controller: commands on a launched cluster', () => {
  it('kill, restart, pause, resume, partition and heal reach the cluster and show on the panel', async () => {
    const f = fixture();
    await f.controller.pollOnce();
    await f.controller.run('kill server1');
    expect(last(f).message).toBe('killed server1 (kill -9); it was the leader: the others elect a new one');
    await f.controller.pollOnce();
    let snap = f.controller.getSnapshot();
    expect(snap.rows[1].liveness).toBe('down');
    expect(snap.leader?.id).toBe('server0');
    await f.controller.run('kill server1');
    expect(last(f)).toMatchObject({ kind: 'error', message: 'server1 is already down (restart server1 starts it)' });
    await f.controller.run('restart 1');
    expect(last(f).message).toMatch(/^server1 started \(pid 1001\)/);
    await f.controller.run('pause server2');
    await f.controller.pollOnce();
    expect(stateLabel(f.controller.getSnapshot().rows[2])).toBe('paused');
    await f.controller.run('pause server2');
    expect(last(f)).toMatchObject({ kind: 'error', message: 'server2 is paused: only a running server can be paused' });
    await f.controller.run('resume server2');
    await f.controller.run('resume server2');
    expect(last(f)).toMatchObject({ kind: 'error', message: 'server2 is up, not paused' });
    await f.controller.run('partition server0');
    expect(last(f).message).toBe('server0 is cut off from server1, server2; heal restores every link');
    await f.controller.pollOnce();
    snap = f.controller.getSnapshot();
    expect(snap.rows.map(stateLabel)).toEqual(['partitioned', 'up, cut from server0', 'up, cut from server0']);
    await f.controller.run('heal');
    await f.controller.pollOnce();
    expect(f.controller.getSnapshot().rows.map(stateLabel)).toEqual(['up', 'up', 'up']);
    expect(f.cluster.calls).toEqual(['kill server1', 'restart server1', 'pause server2', 'resume server2', 'partition [["server0"],["server1","server2"]]', 'heal']);
  });

  it('an action that fails is shown as an error once', async () => {
    const f = fixture();
    f.cluster.failNext = 'timed out after 15000 ms waiting for server2 to answer Status';
    await f.controller.run('restart server2');
    const results = f.controller.getSnapshot().results;
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ kind: 'error', pending: false, message: 'timed out after 15000 ms waiting for server2 to answer Status' });
  });

  it('leader, status and trace answer in the results', async () => {
    const f = fixture();
    await f.controller.run('leader');
    expect(last(f).message).toBe('leader: server1 (term 2, commit 5); 3 of 3 servers follow it');
    await f.controller.run('status');
    expect(last(f).message).toContain('server1  127.0.0.1:7101  up     leader');
    await f.controller.run('trace');
    expect(last(f).message).toContain('trace files: traces/tui-test/');
    expect(last(f).message).toContain('ShiViz');
    await f.cluster.kill('server0');
    await f.cluster.kill('server1');
    f.cluster.leader = ''; // the one left cannot win an election
    await f.controller.run('leader');
    expect(last(f).message).toBe('no leader: 1 of 3 servers answer, and a leader needs 2');
  });

  it('help toggles the help view, clear empties the results, quit asks to quit', async () => {
    const f = fixture();
    await f.controller.run('help');
    expect(f.controller.getSnapshot().view).toBe('help');
    await f.controller.run('get k');
    expect(f.controller.getSnapshot().view).toBe('main');
    await f.controller.run('clear');
    expect(f.controller.getSnapshot().results).toEqual([]);
    let heard = 0;
    f.controller.onQuit(() => heard++);
    await f.controller.run('quit');
    expect([f.quits, heard]).toEqual([1, 1]);
  });
});

describe('Controller: attached to a cluster it did not launch', () => {
  it('runs client commands and leader, and refuses process control clearly', async () => {
    const f = fixture({ launched: false });
    await f.controller.run('put k v');
    expect(last(f)).toMatchObject({ kind: 'op', value: 'v' });
    await f.controller.run('leader');
    expect(last(f).message).toContain('leader: server1');
    for (const cmd of ['kill server0', 'restart server0', 'pause server0', 'resume server0', 'partition server0', 'heal']) {
      await f.controller.run(cmd);
      expect(last(f)).toMatchObject({ kind: 'error' });
      expect(last(f).message).toMatch(/^not available: this UI did not launch the cluster/);
    }
    expect(f.cluster.calls).toEqual([]);
  });

  it('marks servers that do not answer', async () => {
    const f = fixture({ launched: false });
    f.cluster.states.set('server2', 'down');
    await f.controller.pollOnce();
    expect(f.controller.getSnapshot().rows.map((r) => r.liveness)).toEqual(['up', 'up', 'no answer']);
  });

  it('close stops the client', async () => {
    const f = fixture();
    await f.controller.run('get k');
    await f.controller.close();
    expect(f.kv.stopped).toBe(true);
  });
});

describe('plain line-mode output', () => {
  it('prints results in full', async () => {
    const f = fixture();
    await f.controller.run('put k1 hello');
    expect(plainResult(last(f))).toBe('[op 1] put k1 hello -> hello  (server server1, 3.3 ms)');
    await f.controller.run('mget k1 k2');
    expect(plainResult(last(f))).toBe('[op 2] mget k1 k2 ->\n  k1\thello\n  k2\t\n  (server server1, 3.3 ms)');
    await f.controller.run('get');
    expect(plainResult(last(f))).toBe('error: get: get takes <key> (usage: get <key>)');
  });
});
