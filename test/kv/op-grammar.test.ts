import { describe, expect, it } from 'vitest';
import { OP_SYNTAX, opName, parseOp } from '../../src/kv/op-grammar.ts';

const op = (word: string, ...args: string[]) => {
  const r = parseOp(word, args);
  if (!r.ok) throw new Error(`expected ${word} ${args.join(' ')} to parse, got ${r.error}`);
  return r.op;
};
const error = (word: string, ...args: string[]) => {
  const r = parseOp(word, args);
  if (r.ok) throw new Error(`expected ${word} ${args.join(' ')} to fail, got ${JSON.stringify(r.op)}`);
  return r.error;
};

describe('op grammar', () => {
  it('names every operation once, delete as an alias of del, and nothing else', () => {
    expect(OP_SYNTAX.map((s) => s.name)).toEqual(['get', 'put', 'del', 'incr', 'expire', 'mget', 'mput']);
    for (const s of OP_SYNTAX) expect(opName(s.name)).toBe(s.name);
    expect(opName('delete')).toBe('del');
    for (const word of ['GET', 'status', '', 'constructor', 'toString']) expect(opName(word)).toBeNull();
  });

  it('parses every operation', () => {
    expect(op('get', 'k')).toEqual({ type: 'get', key: 'k' });
    expect(op('put', 'k', 'a b')).toEqual({ type: 'put', key: 'k', value: 'a b' });
    expect(op('put', 'k', '')).toEqual({ type: 'put', key: 'k', value: '' });
    expect(op('del', 'k')).toEqual({ type: 'delete', key: 'k' });
    expect(op('delete', 'k')).toEqual({ type: 'delete', key: 'k' });
    expect(op('incr', 'n')).toEqual({ type: 'incr', key: 'n' });
    expect(op('expire', 'k', '1.5')).toEqual({ type: 'expire', key: 'k', ttlSeconds: 1.5 });
    expect(op('mget', 'a', 'b')).toEqual({ type: 'mget', keys: ['a', 'b'] });
    expect(op('mput', 'a=1', 'b==2', 'c=')).toEqual({
      type: 'mput',
      pairs: [{ key: 'a', value: '1' }, { key: 'b', value: '=2' }, { key: 'c', value: '' }],
    });
  });

  it('says what each operation takes when the count of arguments is wrong', () => {
    expect(error('get')).toBe('get takes <key> (usage: get <key>)');
    expect(error('get', 'a', 'b')).toBe('get takes <key> (usage: get <key>)');
    expect(error('put', 'k')).toBe('put takes <key> <value> (usage: put <key> <value>)');
    expect(error('put', 'k', 'v', 'w')).toBe('put takes <key> <value> (usage: put <key> <value>)');
    expect(error('del')).toBe('del takes <key> (usage: del <key>)');
    expect(error('delete', 'a', 'b')).toBe('del takes <key> (usage: del <key>)');
    expect(error('incr')).toBe('incr takes <key> (usage: incr <key>)');
    expect(error('expire', 'k')).toBe('expire takes <key> <seconds> (usage: expire <key> <seconds>)');
    expect(error('mget')).toBe('mget takes <key>... (usage: mget <key>...)');
    expect(error('mput')).toBe('mput takes <key>=<value>... (usage: mput <key>=<value>...)');
  });

  it('checks expire seconds and mput pairs', () => {
    for (const bad of ['soon', '0', '-1', '', ' ', 'NaN', 'Infinity', '0x10', '0b11', '0o7', ' 7', '7 ', '+5', '1e', '.']) {
      expect(error('expire', 'k', bad)).toBe(`expire: seconds must be a positive number (got "${bad}")`);
    }
    expect(error('mput', 'a')).toBe('mput: "a" is not <key>=<value>');
    expect(error('mput', 'a=1', '=1')).toBe('mput: "=1" is not <key>=<value>');
  });

  it('leaves the limits to validateOp: the form is all it checks', () => {
    expect(op('get', 'k'.repeat(600))).toEqual({ type: 'get', key: 'k'.repeat(600) });
    expect(op('get', '')).toEqual({ type: 'get', key: '' });
    expect(op('expire', 'k', '1e12')).toEqual({ type: 'expire', key: 'k', ttlSeconds: 1e12 });
    expect(op('expire', 'k', '.5')).toEqual({ type: 'expire', key: 'k', ttlSeconds: 0.5 });
    expect(op('expire', 'k', '30')).toEqual({ type: 'expire', key: 'k', ttlSeconds: 30 });
  });

  it('refuses a word that is not an operation', () => {
    expect(error('frob')).toBe('unknown operation "frob" (operations: get, put, del, incr, expire, mget, mput)');
  });
});
