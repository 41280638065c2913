import { describe, expect, it } from 'vitest';
import { roleCell, statusText } from '../../src/tui/cluster-text.ts';
import { panelCells, panelLine, rowTone } from '../../src/tui/format.ts';
import type { ResultEntry, ServerRow } from '../../src/tui/state.ts';
import { Membership } from '../../src/tui/membership.ts';
import { FakeCluster, fixture, SERVERS, waitFor } from './fakes.ts';

/**
 * Membership in the UI, against the fake cluster: its admin calls change the fake's
 * configuration on the leader and answer NOT_LEADER elsewhere, and the routing under test
 * is the real one (src/tui/membership.ts).
 */

type F = ReturnType<typeof fixture>;
const last = (f: F): ResultEntry => f.controller.getSnapshot().results.at(-1)!;
const row = (f: F, id: string): ServerRow | undefined => f.controller.getSnapshot().rows.find((r) => r.id === id);
/** The changes the fake servers were asked for, without the MemberList polls. */
const changes = (f: F) => f.cluster.adminCalls.filter((c) => !c.endsWith(' memberList'));
const ADDR5 = '127.0.0.1:7105';

describe('membership: the panel follows the configuration', () => {
  it('marks every row a voter once a server tells the membership', async () => {
    const f = fixture();
    expect(row(f, 'server0')!.member).toBeUndefined();
    await f.controller.pollOnce();
    // Not knowing the leader yet, the UI asks the first server; after that, the leader it named.
    expect(f.controller.getSnapshot().members).toMatchObject({ from: 'server0', leaderId: 'server1', joint: false });
    await f.controller.pollOnce();
    const snap = f.controller.getSnapshot();
    expect(snap.members).toMatchObject({ from: 'server1', leaderId: 'server1', joint: false });
    expect(snap.rows.map((r) => [r.id, r.member?.kind, roleCell(r)])).toEqual([
      ['server0', 'voter', 'follower'],
      ['server1', 'voter', 'leader'],
      ['server2', 'voter', 'follower'],
    ]);
  });

  it('a member added later gets a row at its address, shown as a learner with its progress', async () => {
    const f = fixture();
    await f.controller.pollOnce();
    await f.controller.run(`add server5 ${ADDR5}`);
    // The leader answered with the new configuration: the row is there before any poll.
    expect(row(f, 'server5')).toMatchObject({ addr: ADDR5, liveness: 'no answer', member: { kind: 'learner', progress: 0 } });
    f.cluster.others.set('server5', 'up');
    f.cluster.commit = 10;
    f.cluster.match.set('server5', 8);
    await f.controller.pollOnce();
    const r5 = row(f, 'server5')!;
    expect(r5).toMatchObject({ liveness: 'up', member: { kind: 'learner', matchIndex: 8, progress: 80 } });
    expect(roleCell(r5)).toBe('learner 80%');
    expect(panelLine(panelCells(r5, 'server1'), 75)).toMatch(/^ {2}server5\s+learner 80%\s+2\s+10\s+10/);
    expect(rowTone(r5, 'server1')).toBe('cyan');
    expect(f.controller.serverIds).toEqual(['server0', 'server1', 'server2', 'server5']);
  });

  it('shows no progress from a follower, which does not know match indexes', async () => {
    const f = fixture();
    await f.controller.run(`add server5 ${ADDR5}`);
    f.cluster.match.set('server5', 3);
    f.cluster.states.set('server1', 'paused'); // the leader stops answering: a follower tells
    await f.controller.pollOnce();
    expect(f.controller.getSnapshot().members?.from).toBe('server0');
    expect(row(f, 'server5')!.member).toMatchObject({ kind: 'learner', matchIndex: null, progress: null });
    expect(roleCell(row(f, 'server5')!)).toBe('learner');
  });

  it('a configured server removed stays, marked removed; one learned and removed goes', async () => {
    const f = fixture();
    await f.controller.run(`add server5 ${ADDR5}`);
    await f.controller.run('remove server2');
    expect(last(f)).toMatchObject({ kind: 'info', message: 'removed server2', servedBy: 'server1' });
    const r2 = row(f, 'server2')!;
    expect(roleCell(r2)).toBe('removed');
    expect(rowTone(r2, 'server1')).toBe('dim');
    await f.controller.run('remove server5');
    await f.controller.pollOnce();
    expect(f.controller.getSnapshot().rows.map((r) => [r.id, r.member?.kind])).toEqual([
      ['server0', 'voter'],
      ['server1', 'voter'],
      ['server2', 'removed'],
    ]);
    // Two voters left: a majority is 2 of them, and the removed one does not count.
    await f.controller.run('leader');
    expect(last(f).message).toBe('leader: server1 (term 2, commit 8); 2 of 2 servers follow it');
  });

  it('a joint configuration shows in status, members and the role of C_old voters', async () => {
    const f = fixture();
    f.cluster.joint = true;
    f.cluster.members[2].outgoing = true;
    await f.controller.pollOnce();
    expect(f.controller.getSnapshot().members?.joint).toBe(true);
    expect(roleCell(row(f, 'server2')!)).toBe('follower (old)');
    expect(panelLine(panelCells(row(f, 'server2')!, 'server1'), 75)).toMatch(/^ {2}server2\s+follower \(old\)\s+2/);
    await f.controller.run('status');
    expect(last(f).message!.split('\n')[0]).toBe('joint (C_old,new): a decision needs a majority of the old voters and of the new');
    await f.controller.run('members');
    expect(last(f).message).toContain('; joint (C_old,new): a decision needs a majority of each');
    expect(last(f).message).toMatch(/server2\s+127\.0\.0\.1:7102\s+voter \(C_old\)/);
    f.cluster.joint = false;
    f.cluster.members[2].outgoing = false;
    await f.controller.run('status');
    expect(last(f).message).not.toContain('joint');
  });

  it('servers that cannot tell the membership leave the panel as it was, and are not asked again at once', async () => {
    const f = fixture();
    f.cluster.noMemberList = true;
    await f.controller.pollOnce();
    const snap = f.controller.getSnapshot();
    expect(snap.members).toBeNull();
    expect(snap.rows.map((r) => [r.id, r.member, r.liveness])).toEqual([
      ['server0', undefined, 'up'],
      ['server1', undefined, 'up'],
      ['server2', undefined, 'up'],
    ]);
    await f.controller.run('members');
    expect(last(f)).toMatchObject({ kind: 'error' });
    expect(last(f).message).toMatch(/^cannot read the membership: no server told its membership \(3 asked; last: 12 UNIMPLEMENTED/);
    // A change then goes to the leader the status polls found.
    await f.controller.run(`add server5 ${ADDR5}`);
    expect(changes(f)).toEqual([`server1 memberAdd server5`]);
    // The timer backs off after a failed round instead of asking every tick.
    await f.controller.pollOnce(); // (the poll that follows a change has finished too)
    const before = f.cluster.adminCalls.length;
    f.controller.startPolling(10);
    await new Promise((r) => setTimeout(r, 150));
    f.controller.stopPolling();
    expect(f.cluster.adminCalls.length - before).toBe(0);
  });

  it('a slow membership answer from before a change does not undo it on the panel', async () => {
    const f = fixture();
    await f.controller.pollOnce();
    let release!: () => void;
    f.cluster.memberListGate = new Promise((r) => (release = r));
    const stalePoll = f.controller.pollOnce(); // asks, and the answer waits at the gate
    await waitFor(() => f.cluster.adminCalls.filter((c) => c.endsWith('memberList')).length === 2, 'the second MemberList');
    await f.controller.run(`add server5 ${ADDR5}`);
    expect(row(f, 'server5')).toBeDefined();
    let vanished = false;
    const unsubscribe = f.controller.subscribe(() => {
      if (!row(f, 'server5')) vanished = true;
    });
    f.cluster.memberListGate = null;
    release();
    await stalePoll;
    await f.controller.pollOnce();
    unsubscribe();
    expect(vanished).toBe(false);
    expect(row(f, 'server5')).toBeDefined();
  });
});

describe('membership: changes through the leader', () => {
  it('add, promote, transfer and remove reach the leader and say what they did', async () => {
    const f = fixture();
    await f.controller.pollOnce();
    await f.controller.run(`add server5 ${ADDR5}`);
    expect(last(f)).toMatchObject({ kind: 'info', pending: false, message: `added server5 (${ADDR5}) as a learner; promoted once caught up`, servedBy: 'server1' });
    await f.controller.run(`add server6 127.0.0.1:7106 --learner`);
    expect(last(f).message).toBe('added server6 (127.0.0.1:7106) as a learner; it stays one until promote server6');
    f.cluster.match.set('server5', f.cluster.commit);
    await f.controller.run('promote server5');
    expect(last(f)).toMatchObject({ kind: 'info', message: 'promoted server5: it is a voter now' });
    expect(row(f, 'server5')!.member?.kind).toBe('voter');
    await f.controller.run('transfer');
    expect(last(f)).toMatchObject({ kind: 'info', message: 'leadership handed to server0 (from server1)', servedBy: 'server1' });
    await f.controller.pollOnce();
    expect(f.controller.getSnapshot().leader?.id).toBe('server0');
    await f.controller.run('transfer 2');
    expect(last(f)).toMatchObject({ kind: 'info', message: 'leadership handed to server2 (from server0)', servedBy: 'server0' });
    await f.controller.pollOnce();
    await f.controller.run('remove server2');
    expect(last(f).message).toBe('removed server2; it was the leader: it steps down and the others elect a new one');
    expect(changes(f)).toEqual([
      'server1 memberAdd server5',
      'server1 memberAdd server6 --learner',
      'server1 memberPromote server5',
      'server1 transferLeader ',
      'server0 transferLeader server2',
      'server2 memberRemove server2',
    ]);
  });

  it('shows a change as pending until the leader answers', async () => {
    const f = fixture();
    await f.controller.pollOnce();
    let release!: () => void;
    f.cluster.changeGate = new Promise<void>((r) => (release = r));
    const done = f.controller.run('remove server0');
    await waitFor(() => last(f)?.pending === true, 'a pending entry');
    expect(last(f)).toMatchObject({ kind: 'info', message: 'removing server0...' });
    release();
    await done;
    expect(last(f)).toMatchObject({ pending: false, message: 'removed server0' });
  });

  it('without a known leader it asks the membership first, then the leader it names', async () => {
    const f = fixture();
    await f.controller.run('promote server0');
    expect(f.cluster.adminCalls).toEqual(['server0 memberList', 'server1 memberPromote server0']);
    expect(last(f)).toMatchObject({ kind: 'error', message: 'refused: server0 is already a voter (INVALID)' });
  });

  it('a server that is no longer the leader answers NOT_LEADER, and the UI asks the one it names', async () => {
    const f = fixture();
    await f.controller.pollOnce(); // the UI knows server1 leads
    f.cluster.leader = 'server2'; // and then it moved
    await f.controller.run(`add server5 ${ADDR5} --learner`);
    expect(changes(f)).toEqual(['server1 memberAdd server5 --learner', 'server2 memberAdd server5 --learner']);
    expect(last(f)).toMatchObject({ kind: 'info', servedBy: 'server2' });
    // The next change goes straight to the leader the answer named.
    await f.controller.run('remove server5');
    expect(changes(f).at(-1)).toBe('server2 memberRemove server5');
  });

  it('follows NOT_LEADER once only: a second one is refused', async () => {
    const f = fixture();
    await f.controller.pollOnce();
    f.cluster.leader = 'server2';
    // server1 names server0, which does not lead either; server0 would name the real one.
    f.cluster.staleLeader.set('server1', 'server0');
    await f.controller.run('remove server2');
    expect(changes(f)).toEqual(['server1 memberRemove server2', 'server0 memberRemove server2']);
    expect(last(f)).toMatchObject({ kind: 'error', message: 'refused: neither server1 nor server0 is the leader (NOT_LEADER): leadership is moving; try again in a moment', servedBy: 'server0' });
    expect(f.cluster.members.map((m) => m.id)).toEqual(['server0', 'server1', 'server2']);
  });

  it('refusals say why, with the code', async () => {
    const f = fixture();
    await f.controller.pollOnce();
    f.cluster.refuseNext = { code: 'BUSY', error: 'a configuration change is under way' };
    await f.controller.run(`add server5 ${ADDR5}`);
    expect(last(f)).toMatchObject({ kind: 'error', message: 'refused: a configuration change is under way (BUSY)' });
    f.cluster.refuseNext = { code: 'BUSY', error: '' };
    await f.controller.run(`add server5 ${ADDR5}`);
    expect(last(f).message).toBe('refused: another membership change or a transfer is under way (BUSY)');
    await f.controller.run(`add server5 ${ADDR5}`);
    await f.controller.run('promote server5');
    expect(last(f)).toMatchObject({ kind: 'error', message: 'refused: server5 has not caught up (match 0 of 6) (INVALID)' });
    expect(row(f, 'server5')!.member?.kind).toBe('learner');
    await f.controller.run('transfer server5');
    expect(last(f)).toMatchObject({ kind: 'error', message: 'refused: server5 cannot lead (INVALID)' });
    f.cluster.refuseNext = { code: 'TIMEOUT', error: 'the change did not commit within 10 s' };
    await f.controller.run('remove server0');
    expect(last(f)).toMatchObject({ kind: 'error', message: 'not confirmed: the change did not commit within 10 s (TIMEOUT); it may still take effect: members shows whether it did' });
    f.cluster.leader = '';
    await f.controller.run('remove server0');
    expect(last(f)).toMatchObject({ kind: 'error', message: 'refused: no leader: an election is under way (NO_LEADER)' });
  });

  it('a leader that does not answer is an error, and nothing else is asked', async () => {
    const f = fixture();
    await f.controller.pollOnce();
    f.cluster.states.set('server1', 'down');
    await f.controller.run('remove server0');
    expect(last(f)).toMatchObject({ kind: 'error', message: 'server1 did not answer: 14 UNAVAILABLE: server1 does not answer' });
    expect(changes(f)).toEqual(['server1 memberRemove server0']);
  });

  it('members lists id, address, voter or learner, and match', async () => {
    const f = fixture();
    await f.controller.run(`add server5 ${ADDR5}`);
    f.cluster.commit = 10;
    f.cluster.match.set('server5', 8);
    await f.controller.run('members');
    expect(last(f).message).toBe(
      [
        'configuration at index 6: 3 voters, 1 learner; leader server1 (term 2)',
        'id       addr            member   match',
        'server0  127.0.0.1:7100  voter    10',
        'server1  127.0.0.1:7101  voter    10',
        'server2  127.0.0.1:7102  voter    10',
        'server5  127.0.0.1:7105  learner  8/10 (80%)',
      ].join('\n'),
    );
  });

  it('process control refuses a member this UI did not start', async () => {
    const f = fixture();
    await f.controller.run(`add server5 ${ADDR5}`);
    await f.controller.run('kill server5');
    expect(last(f)).toMatchObject({ kind: 'error', message: 'server5 is not a process this UI started (it joined the cluster later): stop or start it where it runs' });
    expect(f.cluster.calls).toEqual([]);
  });

  it('works attached too: membership goes through the servers, not the processes', async () => {
    const f = fixture({ launched: false });
    await f.controller.run(`add server5 ${ADDR5}`);
    expect(last(f)).toMatchObject({ kind: 'info', message: `added server5 (${ADDR5}) as a learner; promoted once caught up` });
    expect(statusText(f.controller.getSnapshot().rows, () => undefined)).toMatch(/server5\s+127\.0\.0\.1:7105\s+no answer\s+learner 0%/);
  });
});

describe('Membership: the address book', () => {
  it('learns members from the answers and dials a learned leader at its address', async () => {
    const cluster = new FakeCluster();
    const dialed: string[] = [];
    const m = new Membership(SERVERS, (id, addr) => {
      dialed.push(`${id}@${addr}`);
      return cluster.adminOf(id);
    });
    expect(m.addressOf('server5')).toBeUndefined();
    await m.add('server5', ADDR5, false);
    expect(m.addressOf('server5')).toBe(ADDR5);
    expect(m.known().map((s) => s.id)).toEqual(['server0', 'server1', 'server2', 'server5']);
    cluster.others.set('server5', 'up');
    cluster.members[3].learner = false;
    cluster.leader = 'server5';
    dialed.length = 0;
    const answer = await m.remove('server0');
    expect(answer).toMatchObject({ asked: ['server1', 'server5'], result: { ok: true } });
    expect(dialed).toEqual(['server1@127.0.0.1:7101', `server5@${ADDR5}`]);
  });

  it('asks the members of the last answer before a removed server, whose view may be stale', async () => {
    const cluster = new FakeCluster();
    const m = new Membership(SERVERS, (id) => cluster.adminOf(id));
    await m.remove('server0');
    cluster.states.set('server1', 'down'); // the leader it knows stops answering
    cluster.adminCalls.length = 0;
    const answer = await m.members();
    expect(cluster.adminCalls).toEqual(['server1 memberList', 'server2 memberList']);
    expect(answer.from).toBe('server2');
  });

  it('rejects with every server silent, saying how many it asked', async () => {
    const cluster = new FakeCluster();
    for (const id of cluster.ids) cluster.states.set(id, 'down');
    const m = new Membership(SERVERS, (id) => cluster.adminOf(id));
    await expect(m.members()).rejects.toThrow(/^no server told its membership \(3 asked; last: 14 UNAVAILABLE: server2 does not answer\)$/);
  });
});
