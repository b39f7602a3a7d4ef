import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { status as grpcStatus } from '@grpc/grpc-js';
import {
  closeCodeForStatus,
  MAX_CLOSE_REASON_BYTES,
  STATUS_NAMES,
  StatusCode,
  statusForCloseCode,
  statusName,
  truncateCloseReason,
} from '../../protocol/index.js';

describe('status codes and close codes', () => {
  test('the protocol status codes are exactly grpc-js status codes', () => {
    for (const name of STATUS_NAMES) assert.equal(StatusCode[name], grpcStatus[name], name);
    assert.equal(STATUS_NAMES.length, 17);
  });

  test('OK closes with 1000, every other status with 4000 + code, and back', () => {
    assert.equal(closeCodeForStatus(StatusCode.OK), 1000);
    assert.equal(closeCodeForStatus(StatusCode.CANCELLED), 4001);
    assert.equal(closeCodeForStatus(StatusCode.UNAVAILABLE), 4014);
    assert.equal(closeCodeForStatus(StatusCode.UNAUTHENTICATED), 4016);
    for (const name of STATUS_NAMES)
      assert.equal(statusForCloseCode(closeCodeForStatus(StatusCode[name])), StatusCode[name]);
    assert.equal(statusForCloseCode(1006), undefined);
  });

  test('unknown numeric codes are named UNKNOWN', () => {
    assert.equal(statusName(99), 'UNKNOWN');
    assert.equal(statusName(14), 'UNAVAILABLE');
  });

  test('close reasons are cut to 123 bytes without splitting a character', () => {
    const long = 'é'.repeat(100);
    const cut = truncateCloseReason(long);
    assert.ok(new TextEncoder().encode(cut).length <= MAX_CLOSE_REASON_BYTES);
    assert.equal(cut, 'é'.repeat(61));
    assert.equal(truncateCloseReason('short'), 'short');
  });
});
