import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  backoffDelay,
  backoffPolicy,
  createBackoff,
  isRetryable,
  parseRetryAfter,
  type StreamEnding,
} from '../../clients/lib/reconnect.js';
import { type CallStatus, StatusCode, statusName } from '../../protocol/common/status.js';

const status = (code: StatusCode): CallStatus => ({
  code,
  name: statusName(code),
  message: '',
  metadata: {},
});
const ending = (code: StatusCode, closeCode: number, more: Partial<StreamEnding> = {}): StreamEnding => ({
  status: status(code),
  closeCode,
  statusFrame: true,
  ...more,
});

describe('backoff (pure)', () => {
  const policy = backoffPolicy({ retries: 10, initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000 });

  test('full jitter: each delay is uniform in [0, min(cap, initial × multiplier^(n-1))]', () => {
    assert.equal(
      backoffDelay(1, policy, () => 0.999_999),
      100,
    );
    assert.equal(
      backoffDelay(3, policy, () => 0.5),
      200,
    );
    assert.equal(
      backoffDelay(4, policy, () => 0),
      0,
    );
    // The cap holds however many attempts.
    assert.equal(
      backoffDelay(30, policy, () => 0.999_999),
      1000,
    );
  });

  test('the attempt count grows with failures, stops at retries, and resets only when a stream worked', () => {
    const backoff = createBackoff(backoffPolicy({ retries: 3, initialDelayMs: 100 }), () => 0.999_999);
    assert.deepEqual(backoff.next(), { attempt: 1, delayMs: 100 });
    assert.deepEqual(backoff.next(), { attempt: 2, delayMs: 200 });
    assert.deepEqual(backoff.next(), { attempt: 3, delayMs: 400 });
    assert.equal(backoff.next(), undefined, 'retries used up');
    backoff.worked();
    assert.deepEqual(backoff.next(), { attempt: 1, delayMs: 100 });
  });

  test('a Retry-After is a floor under the jittered delay', () => {
    const backoff = createBackoff(backoffPolicy({ retries: 3, initialDelayMs: 100 }), () => 0.1);
    assert.equal(backoff.next(2000)?.delayMs, 2000);
  });

  test('Retry-After: seconds or an HTTP date, bounded; garbage is ignored', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('99999999', now), 300_000);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});

describe('retry classification (pure)', () => {
  test('retryable: UNAVAILABLE, a gateway going away (even with OK), 1006, a handshake timeout, 503', () => {
    assert.equal(isRetryable(ending(StatusCode.UNAVAILABLE, 4014)), true);
    assert.equal(isRetryable(ending(StatusCode.OK, 1001)), true);
    assert.equal(isRetryable(ending(StatusCode.UNAVAILABLE, 1006, { statusFrame: false })), true);
    assert.equal(
      isRetryable(
        ending(StatusCode.DEADLINE_EXCEEDED, 1006, { statusFrame: false, handshakeTimedOut: true }),
      ),
      true,
    );
    assert.equal(isRetryable(ending(StatusCode.UNAVAILABLE, 1006, { httpStatus: 503 })), true);
    assert.equal(
      isRetryable(ending(StatusCode.CANCELLED, 4001)),
      true,
      'the server cancelled (a core stopping)',
    );
  });

  test('never retried: what another attempt cannot fix', () => {
    for (const code of [
      StatusCode.INVALID_ARGUMENT,
      StatusCode.PERMISSION_DENIED,
      StatusCode.UNAUTHENTICATED,
      StatusCode.RESOURCE_EXHAUSTED,
      StatusCode.UNIMPLEMENTED,
      StatusCode.INTERNAL,
    ]) {
      assert.equal(isRetryable(ending(code, 4000 + code)), false, statusName(code));
    }
    assert.equal(isRetryable(ending(StatusCode.OK, 1000)), false);
    assert.equal(isRetryable(ending(StatusCode.INVALID_ARGUMENT, 1008)), false, 'policy close');
    for (const http of [400, 401, 403, 404, 426]) {
      assert.equal(
        isRetryable(ending(StatusCode.UNKNOWN, 1006, { httpStatus: http })),
        false,
        `HTTP ${http}`,
      );
    }
  });
});
