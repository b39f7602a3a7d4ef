import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  capErrorDetails,
  HTTP2_CONNECTION_HEADERS,
  isTransportMetadataKey,
  isWellFormedString,
  MAX_ERROR_DETAIL_LENGTH,
  MAX_ERROR_DETAILS,
  trailerMetadata,
} from '../../protocol/index.js';
import {
  isBase64,
  isReservedMetadataKey,
  MAX_OPEN_METADATA_BYTES,
  MAX_OPEN_METADATA_ENTRIES,
  metadataProblems,
} from '../../protocol/v2/index.js';

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

  test('every header HTTP/2 forbids in a request, and every identity header, is reserved', () => {
    for (const key of [
      ...HTTP2_CONNECTION_HEADERS,
      'te',
      'forwarded',
      'x-forwarded-for',
      'x-forwarded-host',
      'x-forwarded-proto',
      'x-real-ip',
      'proxy-authorization',
    ]) {
      assert.ok(isReservedMetadataKey(key), key);
      assert.equal(metadataProblems({ [key]: 'x' }).length, 1, key);
    }
    assert.match(metadataProblems({ 'http2-settings': 'AAA' })[0]?.message ?? '', /RFC 9113/);
    assert.equal(
      metadataProblems({ te: 'trailers' })[0]?.message,
      'reserved or transport key: a client may not set it',
    );
  });

  test('a -bin value is base64 of a length some bytes encode to, padded or not', () => {
    for (const good of ['', 'AA', 'AAA', 'AAAA', 'AA==', 'AAA=', 'AAECAw==', 'AAECAw', '+/+/'])
      assert.ok(isBase64(good), good);
    for (const bad of ['A', 'AAAAA', 'A===', 'AA=', 'A=', '====', 'AA=A', 'AA AA', '-_'])
      assert.ok(!isBase64(bad), bad);
    assert.equal(metadataProblems({ 'trace-bin': 'A' })[0]?.path, 'metadata.trace-bin');
  });

  test(`more than ${MAX_OPEN_METADATA_ENTRIES} entries or ${MAX_OPEN_METADATA_BYTES} bytes is one problem, found first`, () => {
    const entries = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`BAD-${i}`, 'v']));
    assert.equal(metadataProblems(entries(MAX_OPEN_METADATA_ENTRIES)).length, MAX_OPEN_METADATA_ENTRIES);
    const tooMany = metadataProblems(entries(MAX_OPEN_METADATA_ENTRIES + 1));
    assert.deepEqual(tooMany, [
      { path: 'metadata', message: `65 entries: at most ${MAX_OPEN_METADATA_ENTRIES} are allowed` },
    ]);
    assert.deepEqual(metadataProblems({ 'x-a': 'v'.repeat(MAX_OPEN_METADATA_BYTES - 3) }), []);
    assert.match(
      metadataProblems({ 'x-a': 'v'.repeat(MAX_OPEN_METADATA_BYTES - 2) })[0]?.message ?? '',
      /at most 8192/,
    );
  });

  test('an error frame lists at most MAX_ERROR_DETAILS details, each clipped, and counts the rest', () => {
    const many = Array.from({ length: 4900 }, (_, i) => ({ path: `metadata.k${i}`, message: 'bad' }));
    const capped = capErrorDetails(many);
    assert.equal(capped.length, MAX_ERROR_DETAILS);
    assert.deepEqual(capped.at(-1), {
      path: '',
      message: `${4900 - MAX_ERROR_DETAILS + 1} more problems not listed`,
    });
    const [long] = capErrorDetails([{ path: 'p'.repeat(10_000), message: '😀'.repeat(5000) }]);
    assert.ok((long?.path.length ?? 0) <= MAX_ERROR_DETAIL_LENGTH);
    assert.ok((long?.message.length ?? 0) <= MAX_ERROR_DETAIL_LENGTH);
    assert.ok(isWellFormedString(long?.message ?? ''), 'a pair cut in half is not left as a lone surrogate');
    const few = [{ path: 'a', message: 'b' }];
    assert.deepEqual(capErrorDetails(few), few);
  });
});
