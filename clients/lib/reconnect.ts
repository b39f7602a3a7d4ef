/**
 * Reconnect rules, pure: exponential backoff with full jitter and a cap, the attempt counter that
 * resets only after a stream has really worked, and which endings are worth another attempt.
 * reconnecting-core.ts applies them for every client of the gateway (RouteChatSocket, GatewayClient).
 */
import { CloseCode } from '../../protocol/common/close-codes.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';

export interface ReconnectOptions {
  /**
   * Attempts in a row that may fail before giving up. The count resets only once a stream has
   * really worked: a reply arrived, or it stayed open for `healthyAfterMs`.
   */
  readonly retries: number;
  /** The cap of the first delay (full jitter: each delay is uniform in [0, cap]). Default 250. */
  readonly initialDelayMs?: number;
  /** The cap of every delay. Default 10000. */
  readonly maxDelayMs?: number;
  /** Default 2. */
  readonly multiplier?: number;
  /** How long a stream must stay open, without a reply, to count as working. Default 5000. */
  readonly healthyAfterMs?: number;
}

export interface BackoffPolicy {
  readonly retries: number;
  readonly initialDelayMs: number;
  readonly multiplier: number;
  readonly maxDelayMs: number;
  readonly healthyAfterMs: number;
}

export const DEFAULT_BACKOFF = {
  initialDelayMs: 250,
  multiplier: 2,
  maxDelayMs: 10_000,
  healthyAfterMs: 5_000,
} as const;

export function backoffPolicy(options: ReconnectOptions): BackoffPolicy {
  return {
    retries: Math.max(0, options.retries),
    initialDelayMs: options.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs,
    multiplier: options.multiplier ?? DEFAULT_BACKOFF.multiplier,
    maxDelayMs: options.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs,
    healthyAfterMs: options.healthyAfterMs ?? DEFAULT_BACKOFF.healthyAfterMs,
  };
}

/**
 * The delay before attempt `attempt` (1-based) after failures: "full jitter" (AWS architecture
 * blog, 2015): uniform in [0, min(max, initial × multiplier^(attempt-1))], so that clients dropped
 * together by one restart spread out instead of coming back in waves. `random` is in [0, 1).
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * policy.multiplier ** Math.max(0, attempt - 1),
  );
  return Math.round(random() * ceiling);
}

/** Failures in a row and the next delay; `worked()` when a stream has proved itself. */
export interface Backoff {
  /** The next attempt and its delay, or undefined when the retries are used up. */
  next(minimumDelayMs?: number): { attempt: number; delayMs: number } | undefined;
  /** The stream worked (a reply, or open long enough): the next failure starts from attempt 1. */
  worked(): void;
  readonly failures: number;
}

export function createBackoff(policy: BackoffPolicy, random: () => number = Math.random): Backoff {
  let failures = 0;
  return {
    next(minimumDelayMs = 0) {
      if (failures >= policy.retries) return undefined;
      failures += 1;
      return { attempt: failures, delayMs: Math.max(minimumDelayMs, backoffDelay(failures, policy, random)) };
    },
    worked() {
      failures = 0;
    },
    get failures() {
      return failures;
    },
  };
}

/** How one connection ended, as far as the retry rules care. */
export interface StreamEnding {
  readonly status: CallStatus;
  readonly closeCode: number;
  /** true when the gateway sent a status frame (the status is the core's or the gateway's word). */
  readonly statusFrame: boolean;
  /** The HTTP status of a refused upgrade, when the runtime exposes it (Node's ws does, browsers do not). */
  readonly httpStatus?: number | undefined;
  /** No handshake answer within the handshake timeout. */
  readonly handshakeTimedOut?: boolean | undefined;
}

/** HTTP answers to an upgrade that say "later", not "never". */
const RETRYABLE_HTTP = new Set([429, 502, 503, 504]);

/**
 * true when another connection may succeed where this one failed: the server was unreachable,
 * restarting or going away. Never for what a retry cannot fix: a bad request, a refused token or
 * origin, a wrong path (404), an invalid note, a policy close.
 */
export function isRetryable(ending: StreamEnding): boolean {
  if (ending.httpStatus !== undefined) return RETRYABLE_HTTP.has(ending.httpStatus);
  if (ending.handshakeTimedOut) return true;
  // A gateway going away (shutdown, after its status frame, even an OK one) is a restart.
  if (ending.closeCode === CloseCode.GOING_AWAY) return true;
  if (ending.status.code === StatusCode.UNAVAILABLE) return true;
  // CANCELLED from the server side (a core cancelling its calls as it stops); a client's own
  // close() never reaches this function.
  if (ending.status.code === StatusCode.CANCELLED && ending.statusFrame) return true;
  return false;
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date; undefined when absent or
 * unparsable. Bounded so a hostile header cannot park a client for days.
 */
export function parseRetryAfter(value: string | undefined, now: number, maxMs = 300_000): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const date = Date.parse(text);
    if (Number.isNaN(date)) return undefined;
    ms = date - now;
  }
  return Math.min(maxMs, Math.max(0, ms));
}
