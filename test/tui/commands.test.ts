import { describe, expect, it } from 'vitest';
import { complete, parseCommand, tokenize } from '../../src/tui/commands.ts';

const IDS = ['server0', 'server1', 'server2', 'server10'];
const ok = (line: string) => {
  const r = parseCommand(line, IDS);
  if (!r || !r.ok) throw new Error(`expected ${line} to parse, got ${JSON.stringify(r)}`);
  return r.command;
};
const err = (line: string) => {
  const r = parseCommand(line, IDS);
  if (!r || r.ok) throw new Error(`expected ${line} to fail, got ${JSON.stringify(r)}`);
  return r.error;
};

describe('tokenize', () => {
  it('splits on whitespace and keeps quoted spaces', () => {
    expect(tokenize('  put  k1 "hello world" ')).toEqual({ ok: true, tokens: ['put', 'k1', 'hello world'] });
    expect(tokenize(`put k 'it "is"'`)).toEqual({ ok: true, tokens: ['put', 'k', 'it "is"'] });
    expect(tokenize('put k "a\\"b"')).toEqual({ ok: true, tokens: ['put', 'k', 'a"b'] });
    expect(tokenize('put k ""')).toEqual({ ok: true, tokens: ['put', 'k', ''] });
  });
  it('reports an open quote', () => {
    expect(tokenize('put k "abc')).toEqual({ ok: false, error: 'unclosed double quote' });
  });
});

describe('parseCommand', () => {
  it('parses every client operation', () => {
    expect(ok('get k1')).toEqual({ type: 'op', op: { type: 'get', key: 'k1' } });
    expect(ok('PUT k1 v1')).toEqual({ type: 'op', op: { type: 'put', key: 'k1', value: 'v1' } });
    expect(ok('del k1')).toEqual({ type: 'op', op: { type: 'delete', key: 'k1' } });
    expect(ok('delete k1')).toEqual({ type: 'op', op: { type: 'delete', key: 'k1' } });
    expect(ok('incr n')).toEqual({ type: 'op', op: { type: 'incr', key: 'n' } });
    expect(ok('expire k 1.5')).toEqual({ type: 'op', op: { type: 'expire', key: 'k', ttlSeconds: 1.5 } });
    expect(ok('mget a b')).toEqual({ type: 'op', op: { type: 'mget', keys: ['a', 'b'] } });
    expect(ok('mput a=1 b==2 c=')).toEqual({
      type: 'op',
      op: { type: 'mput', pairs: [{ key: 'a', value: '1' }, { key: 'b', value: '=2' }, { key: 'c', value: '' }] },
    });
  });

  it('parses cluster and UI commands, with server ids or their numbers', () => {
    expect(ok('kill server1')).toEqual({ type: 'cluster', action: 'kill', server: 'server1' });
    expect(ok('restart 2')).toEqual({ type: 'cluster', action: 'restart', server: 'server2' });
    expect(ok('partition 10')).toEqual({ type: 'cluster', action: 'partition', server: 'server10' });
    expect(ok('pause server0').type).toBe('cluster');
    expect(ok('resume server0').type).toBe('cluster');
    for (const c of ['leader', 'status', 'heal', 'trace', 'help', 'clear', 'quit']) expect(ok(c)).toEqual({ type: c });
    expect(ok('exit')).toEqual({ type: 'quit' });
    expect(ok('?')).toEqual({ type: 'help' });
  });

  it('parses the membership commands', () => {
    expect(ok('members')).toEqual({ type: 'members' });
    expect(ok('add server5 127.0.0.1:7105')).toEqual({ type: 'add', id: 'server5', addr: '127.0.0.1:7105', learner: false });
    expect(ok('add server5 127.0.0.1:7105 --learner')).toEqual({ type: 'add', id: 'server5', addr: '127.0.0.1:7105', learner: true });
    expect(ok('add --learner s5 host.example:1')).toEqual({ type: 'add', id: 's5', addr: 'host.example:1', learner: true });
    expect(ok('add server6 [::1]:7106')).toMatchObject({ addr: '[::1]:7106' });
    expect(ok('promote 2')).toEqual({ type: 'promote', server: 'server2' });
    expect(ok('remove server10')).toEqual({ type: 'remove', server: 'server10' });
    // An id the UI has not seen yet is the leader's to judge.
    expect(ok('remove server7')).toEqual({ type: 'remove', server: 'server7' });
    expect(ok('transfer')).toEqual({ type: 'transfer', server: null });
    expect(ok('transfer 1')).toEqual({ type: 'transfer', server: 'server1' });
  });

  it('says what is wrong with a membership command', () => {
    expect(err('add server5')).toBe("add takes a new server's id and address (usage: add <id> <host:port> [--learner])");
    expect(err('add server5 127.0.0.1')).toBe('add: "127.0.0.1" is not host:port (e.g. 127.0.0.1:7105)');
    expect(err('add server5 127.0.0.1:70000')).toBe('add: "127.0.0.1:70000" is not host:port (e.g. 127.0.0.1:7105)');
    expect(err('add 5 127.0.0.1:7105')).toContain('"5" is not a server id');
    expect(err('add server5 127.0.0.1:7105 --voter')).toBe('add: unknown option "--voter" (usage: add <id> <host:port> [--learner])');
    expect(err('promote')).toContain('promote takes a server id');
    expect(err('remove 7')).toBe('unknown server "7" (servers: server0, server1, server2, server10)');
    expect(err('transfer a b')).toBe('transfer takes at most a server id (usage: transfer [<server>])');
    expect(err('members all')).toBe('members takes no arguments (usage: members)');
  });

  it('a blank line is nothing', () => {
    expect(parseCommand('', IDS)).toBeNull();
    expect(parseCommand('   \t ', IDS)).toBeNull();
  });

  it('says what is wrong with bad input', () => {
    expect(err('frob')).toBe('unknown command "frob"; type help for the list');
    expect(err('pu k')).toContain('did you mean put?');
    expect(err('get')).toBe('get takes <key> (usage: get <key>)');
    expect(err('get a b')).toBe('get takes <key> (usage: get <key>)');
    expect(err('put k')).toBe('put takes <key> <value> (usage: put <key> <value>)');
    expect(err('mget')).toContain('mget takes <key>...');
    expect(err('mput a')).toBe('mput: "a" is not <key>=<value>');
    expect(err('mput =1')).toBe('mput: "=1" is not <key>=<value>');
    expect(err('expire k soon')).toBe('expire: seconds must be a positive number (got "soon")');
    expect(err('expire k 0')).toContain('positive number');
    expect(err('expire k 1e12')).toContain('the limit is');
    expect(err('kill')).toContain('kill takes a server id');
    expect(err('kill server9')).toBe('unknown server "server9" (servers: server0, server1, server2, server10)');
    expect(err('leader now')).toBe('leader takes no arguments (usage: leader)');
    expect(err('put k "open')).toBe('unclosed double quote');
    expect(err(`put ${'k'.repeat(600)} v`)).toBe('put: key is 600 bytes; the limit is 512');
    expect(err('put "" v')).toBe('put: key must be a non-empty string');
    expect(err(`mget ${Array.from({ length: 300 }, (_, i) => `k${i}`).join(' ')}`)).toContain('the limit is 256');
  });

  it('never throws, whatever the line', () => {
    const junk = ['\u0000', '"', "'", '\\', '= = =', 'mput ===', 'kill ""', 'expire "" ""', '\u001b[A', 'get \u{1F600}', 'restart -1', 'x'.repeat(100_000)];
    for (const line of junk) expect(() => parseCommand(line, IDS)).not.toThrow();
  });
});

describe('complete', () => {
  it('completes a unique command name with a trailing space', () => {
    expect(complete('ki', IDS)).toEqual({ line: 'kill ', options: [] });
    expect(complete('  le', IDS)).toEqual({ line: '  leader ', options: [] });
  });
  it('fills the common prefix and lists the choices', () => {
    expect(complete('re', IDS)).toEqual({ line: 're', options: ['restart', 'resume', 'remove'] });
    expect(complete('res', IDS)).toEqual({ line: 'res', options: ['restart', 'resume'] });
    expect(complete('m', IDS)).toEqual({ line: 'm', options: ['mget', 'mput', 'members'] });
    expect(complete('', IDS).options).toContain('quit');
  });
  it('completes server ids after a command that takes one', () => {
    expect(complete('kill ', IDS)).toEqual({ line: 'kill server', options: IDS });
    expect(complete('kill server1', IDS)).toEqual({ line: 'kill server1', options: ['server1', 'server10'] });
    expect(complete('pause server2', IDS)).toEqual({ line: 'pause server2 ', options: [] });
  });
  it('completes server ids after promote, remove and transfer', () => {
    expect(complete('promote server2', IDS)).toEqual({ line: 'promote server2 ', options: [] });
    expect(complete('remove ', IDS)).toEqual({ line: 'remove server', options: IDS });
    expect(complete('transfer server1', IDS)).toEqual({ line: 'transfer server1', options: ['server1', 'server10'] });
    expect(complete('tran', IDS)).toEqual({ line: 'transfer ', options: [] });
    expect(complete('add ', IDS)).toEqual({ line: 'add ', options: [] }); // a new id: nothing to offer
  });
  it('offers nothing where nothing fits', () => {
    expect(complete('zz', IDS)).toEqual({ line: 'zz', options: [] });
    expect(complete('get k', IDS)).toEqual({ line: 'get k', options: [] });
    expect(complete('kill server1 x', IDS)).toEqual({ line: 'kill server1 x', options: [] });
  });
});
