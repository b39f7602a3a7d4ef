import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  backoffDelay,
  backoffPolicy,
  createBackoff,
  isRetryable,
  parseRetryAfter,
  retryHorizonMs,
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

  test('equal jitter: each delay is uniform in [cap/2, cap], cap = min(max, initial × multiplier^(n-1))', () => {
    assert.equal(
      backoffDelay(1, policy, () => 0.999_999),
      100,
    );
    assert.equal(
      backoffDelay(3, policy, () => 0.5),
      300,
    );
    // The floor: however the dice fall, half the cap.
    assert.equal(
      backoffDelay(4, policy, () => 0),
      400,
    );
    // The cap holds however many attempts.
    assert.equal(
      backoffDelay(30, policy, () => 0.999_999),
      1000,
    );
  });

  test('retries that fail at once still take their horizon: the sum of the delays floors', () => {
    // 50 + 100 + 200 + 400 + 500 + 500
    assert.equal(retryHorizonMs({ retries: 6, initialDelayMs: 100, maxDelayMs: 1000 }), 1750);
    // The defaults, as docs/clients.md quotes them.
    assert.equal(retryHorizonMs({ retries: 10 }), 27_875);
    assert.equal(retryHorizonMs({ retries: 20 }), 77_875);
    assert.equal(retryHorizonMs({ retries: Number.POSITIVE_INFINITY }), Number.POSITIVE_INFINITY);
    // With the dice at their lowest, a backoff's delays add up to exactly the horizon.
    const options = { retries: 6, initialDelayMs: 100, maxDelayMs: 1000 };
    const backoff = createBackoff(backoffPolicy(options), () => 0);
    let total = 0;
    for (let next = backoff.next(); next; next = backoff.next()) total += next.delayMs;
    assert.equal(total, retryHorizonMs(options));
  });

  test('retries: Infinity never gives up, and every delay stays under the cap', () => {
    const backoff = createBackoff(
      backoffPolicy({ retries: Number.POSITIVE_INFINITY, initialDelayMs: 100, maxDelayMs: 800 }),
      () => 0.999_999,
    );
    for (let attempt = 1; attempt <= 10_000; attempt += 1) {
      const next = backoff.next();
      assert.equal(next?.attempt, attempt);
      assert.ok((next?.delayMs ?? Number.NaN) <= 800);
    }
    assert.throws(() => backoffPolicy({ retries: 3, maxDelayMs: Number.POSITIVE_INFINITY }), /finite/);
    assert.throws(() => backoffPolicy({ retries: Number.NaN }), /retries/);
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
