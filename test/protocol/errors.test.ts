import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { GatewayError, StatusCode } from '../../protocol/common/index.js';

describe('GatewayError: one error type for statuses, error frames and failures', () => {
  test('from() a non-OK CallStatus keeps its code, name, message and metadata', () => {
    const error = GatewayError.from({
      code: StatusCode.NOT_FOUND,
      name: 'NOT_FOUND',
      message: 'no feature there',
      metadata: { 'x-trace': 'abc' },
    });
    assert.equal(error.code, StatusCode.NOT_FOUND);
    assert.equal(error.statusName, 'NOT_FOUND');
    assert.equal(error.message, 'no feature there');
    assert.deepEqual(error.metadata, { 'x-trace': 'abc' });
    assert.equal(error.reason, undefined);
  });

  test('from() an error frame (v1 or v2) keeps its reason and details', () => {
    const details = [{ path: 'location.latitude', message: 'expected an integer' }];
    for (const frame of [
      {
        type: 'error',
        code: 'INVALID_ARGUMENT',
        reason: 'invalid_note',
        message: 'invalid RouteNote',
        details,
      },
      {
        type: 'error',
        id: 's1',
        code: 'INVALID_ARGUMENT',
        reason: 'invalid_message',
        message: 'bad',
        details,
      },
    ]) {
      const error = GatewayError.from(frame);
      assert.equal(error.code, StatusCode.INVALID_ARGUMENT);
      assert.equal(error.reason, frame.reason);
      assert.deepEqual(error.details, details);
    }
  });

  test('from() a grpc-js ServiceError takes details as the message and the string metadata', () => {
    const metadata = new grpc.Metadata();
    metadata.set('retry-after', '2');
    metadata.set('blob-bin', Buffer.from([1, 2]));
    const serviceError = Object.assign(new Error('14 UNAVAILABLE: core down'), {
      code: grpc.status.UNAVAILABLE,
      details: 'core down',
      metadata,
    });
    const error = GatewayError.from(serviceError);
    assert.equal(error.code, StatusCode.UNAVAILABLE);
    assert.equal(error.message, 'core down');
    assert.deepEqual(error.metadata, { 'retry-after': '2' });
    assert.equal(error.cause, serviceError);
  });

  test('from() a GatewayError is the same object; anything else is UNKNOWN with the original as cause', () => {
    const own = new GatewayError(StatusCode.ABORTED, 'stop', { reason: 'after_end' });
    assert.equal(GatewayError.from(own), own);
    const thrown = new TypeError('boom');
    const error = GatewayError.from(thrown);
    assert.equal(error.code, StatusCode.UNKNOWN);
    assert.equal(error.message, 'boom');
    assert.equal(error.cause, thrown);
    assert.equal(GatewayError.from('plain text').message, 'plain text');
  });

  test('the three-argument form with a details array still works', () => {
    const error = new GatewayError(StatusCode.INVALID_ARGUMENT, 'bad', [{ path: 'a', message: 'b' }]);
    assert.deepEqual(error.details, [{ path: 'a', message: 'b' }]);
    assert.deepEqual(error.metadata, {});
  });
});
