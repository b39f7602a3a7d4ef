import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTransportMetadataKey, trailerMetadata } from '../../protocol/index.js';
import { isReservedMetadataKey, metadataProblems } from '../../protocol/v2/index.js';

const TRANSPORT = [':status', 'grpc-status', 'grpc-message', 'content-type', 'content-length', 'date', 'te'];

describe('metadata rules (v1 and v2)', () => {
  test('the trailer filter drops every transport key and keeps the application trailers', () => {
    const trailers = Object.fromEntries([...TRANSPORT, 'x-reason', 'trace-bin'].map((k) => [k, 'v']));
    assert.deepEqual(trailerMetadata(trailers), { 'x-reason': 'v', 'trace-bin': 'v' });
  });

  test('a key a status frame never reports is one a v2 client may not set', () => {
    for (const key of TRANSPORT) {
      assert.ok(isTransportMetadataKey(key), key);
      assert.ok(isReservedMetadataKey(key), key);
    }
    for (const key of ['content-length', 'date'])
      assert.equal(metadataProblems({ [key]: '1' })[0]?.path, `metadata.${key}`, key);
    for (const key of ['authorization', 'host', 'connection']) {
      assert.ok(!isTransportMetadataKey(key), key);
      assert.ok(isReservedMetadataKey(key), key);
    }
    assert.deepEqual(metadataProblems({ 'x-reason': 'quota', 'trace-bin': 'AAE=' }), []);
  });
});
