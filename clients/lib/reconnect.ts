/**
 * Reconnect rules, pure: exponential backoff with jitter and a cap, the attempt counter that
 * resets only after a stream has really worked, and which endings are worth another attempt.
 * reconnecting-core.ts applies them for every client of the gateway (RouteChatSocket, GatewayClient).
 */
import { CloseCode } from '../../protocol/common/close-codes.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';

export interface ReconnectOptions {
  /**
   * Attempts in a row that may fail before giving up; `Infinity`: never give up on a failure a
   * retry may fix (each delay stays capped at `maxDelayMs`). The count resets only once a stream
   * has really worked: a reply arrived, or it stayed open for `healthyAfterMs`. Each delay is at
   * least half its cap, so n failures in a row take at least `retryHorizonMs(n)`, however fast
   * each attempt fails (a proxy's 503, a gateway with no core).
   */
  readonly retries: number;
  /** The cap of the first delay (each delay is uniform in [cap/2, cap]). Default 250. */
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
  if (Number.isNaN(options.retries)) throw new TypeError('reconnect.retries must be a number or Infinity');
  if (!(options.maxDelayMs === undefined || Number.isFinite(options.maxDelayMs)))
    throw new TypeError('reconnect.maxDelayMs must be finite: it caps every delay');
  return {
    retries: Math.max(0, options.retries),
    initialDelayMs: options.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs,
    multiplier: options.multiplier ?? DEFAULT_BACKOFF.multiplier,
    maxDelayMs: options.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs,
    healthyAfterMs: options.healthyAfterMs ?? DEFAULT_BACKOFF.healthyAfterMs,
  };
}

/** The cap of the delay before the `attempt`-th retry in a row (1-based). */
function delayCap(attempt: number, policy: BackoffPolicy): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** Math.max(0, attempt - 1));
}

/**
 * The delay before attempt `attempt` (1-based) after failures: "equal jitter" (AWS architecture
 * blog, 2015), uniform in [cap/2, cap] with cap = min(max, initial × multiplier^(attempt-1)). The
 * random half spreads clients dropped together by one restart, so they do not come back in waves;
 * the fixed half is a floor, so attempts that fail at once (a proxy answering 503 while every
 * gateway is unready) cannot spend a client's retries in a second or two, as full jitter's delays
 * near 0 did. `random` is in [0, 1).
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const cap = delayCap(attempt, policy);
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/**
 * The shortest time `retries` failures in a row can take before the client gives up, whatever the
 * jitter and however fast each attempt fails: the sum of the delays' floors (half their caps).
 * Infinity for `retries: Infinity`. With the defaults (250 ms ×2 up to 10 s): 10 retries ride out
 * at least 27.9 s of outage, 20 at least 77.9 s.
 */
export function retryHorizonMs(options: ReconnectOptions): number {
  const policy = backoffPolicy(options);
  if (!Number.isFinite(policy.retries)) return Number.POSITIVE_INFINITY;
  let total = 0;
  for (let attempt = 1; attempt <= policy.retries; attempt += 1) total += delayCap(attempt, policy) / 2;
  return total;
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
