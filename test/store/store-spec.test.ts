import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeNoteStoreSpec, parseNoteStoreSpec } from '../../core-server/notes/index.js';

const ok = (value: string) => {
  const result = parseNoteStoreSpec(value);
  assert.ok(result.ok, `${value}: ${result.ok ? '' : result.problem}`);
  return result.spec;
};

describe('--note-store values', () => {
  test('memory, redis, rediss and redis-sentinel forms parse with their parts', () => {
    assert.deepEqual(ok('memory'), { kind: 'memory' });
    assert.deepEqual(ok('redis://10.0.0.5:6379'), {
      kind: 'redis',
      address: { host: '10.0.0.5', port: 6379 },
      tls: false,
      db: 0,
    });
    assert.deepEqual(ok('rediss://app:s%40cret@cache.example:6380/3'), {
      kind: 'redis',
      address: { host: 'cache.example', port: 6380 },
      tls: true,
      db: 3,
      username: 'app',
      password: 's@cret',
    });
    assert.deepEqual(ok('redis://:secret@[::1]:6379'), {
      kind: 'redis',
      address: { host: '::1', port: 6379 },
      tls: false,
      db: 0,
      password: 'secret',
    });
    assert.deepEqual(ok('redis-sentinel://s1:26379,s2:26380/notes/2'), {
      kind: 'redis-sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      masterName: 'notes',
      db: 2,
    });
  });

  test('malformed values are refused with the accepted forms, never echoing the value', () => {
    for (const bad of [
      'redis',
      'mem',
      'redis://host',
      'redis://host:99999',
      'redis://host:6379/x',
      'redis://:pw@host:6379/1/2',
      'redis-sentinel://s1:26379',
      'redis-sentinel://s1:26379,s2/notes',
      'http://host:6379',
    ]) {
      const result = parseNoteStoreSpec(bad);
      assert.equal(result.ok, false, bad);
      if (!result.ok) {
        assert.match(result.problem, /expected memory, redis:\/\//);
        assert.ok(!result.problem.includes('pw@'), 'no credentials in the message');
      }
    }
  });

  test('the description for logs hides the credentials', () => {
    assert.equal(describeNoteStoreSpec(ok('redis://user:hunter2@h:1/4')), 'redis://***@h:1/4');
    assert.equal(
      describeNoteStoreSpec(ok('redis-sentinel://:hunter2@a:1,b:2/m')),
      'redis-sentinel://***@a:1,b:2/m/0',
    );
    assert.equal(describeNoteStoreSpec(ok('memory')), 'memory');
  });
});
