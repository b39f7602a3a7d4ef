import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toClientStatus } from '../../gateway/upstream/core-status.js';
import { isTransportMetadataKey } from '../../protocol/index.js';

const transport = (code: number, details: string) =>
  toClientStatus({ code, details, metadata: {}, fromCore: false });

describe('core status → client status', () => {
  test("a status the transport made keeps its code, gets a plain message, and hides grpc-js's text", () => {
    const refused = transport(
      14,
      'No connection established. Last error: Error: connect ECONNREFUSED 10.0.0.7:50051.',
    );
    assert.deepEqual(refused.status, {
      code: 14,
      name: 'UNAVAILABLE',
      message: 'core unavailable',
      metadata: {},
    });
    assert.match(refused.hiddenDetail ?? '', /ECONNREFUSED/);
    for (const code of [2, 4, 8, 13]) {
      const { status, hiddenDetail } = transport(
        code,
        'Received RST_STREAM with code 2 (internal: 10.0.0.7)',
      );
      assert.equal(status.code, code);
      assert.doesNotMatch(status.message, /RST_STREAM|10\.0\.0\.7/);
      assert.ok(status.message.length > 0);
      assert.ok(hiddenDetail);
    }
  });

  test('CANCELLED that the client did not ask for is UNAVAILABLE, from the core or the transport', () => {
    for (const fromCore of [true, false]) {
      const { status } = toClientStatus({ code: 1, details: 'Call cancelled', metadata: {}, fromCore });
      assert.equal(status.name, 'UNAVAILABLE');
      assert.equal(status.code, 14);
      assert.equal(status.message, 'core unavailable');
    }
  });

  test("the core's own message and trailers pass through; transport headers do not", () => {
    const { status, hiddenDetail } = toClientStatus({
      code: 7,
      details: 'not on this route',
      metadata: { 'x-reason': 'quota', 'content-type': 'application/grpc', date: 'x', 'grpc-status': '7' },
      fromCore: true,
    });
    assert.deepEqual(status, {
      code: 7,
      name: 'PERMISSION_DENIED',
      message: 'not on this route',
      metadata: { 'x-reason': 'quota' },
    });
    assert.equal(hiddenDetail, undefined);
  });

  test('OK has an empty message when the core sent none', () => {
    assert.equal(toClientStatus({ code: 0, details: 'OK', metadata: {}, fromCore: true }).status.message, '');
  });

  test('reserved metadata keys: pseudo-headers, grpc-*, content-type, date', () => {
    for (const key of [
      ':status',
      'grpc-status',
      'grpc-message',
      'grpc-status-details-bin',
      'content-type',
      'date',
    ])
      assert.ok(isTransportMetadataKey(key), key);
    for (const key of ['x-reason', 'retry-after-ms', 'trace-bin'])
      assert.ok(!isTransportMetadataKey(key), key);
  });
});
