/**
 * The reconnecting core: one connection at a time (a WebSocket, or one stream of a shared
 * GatewayClient), attempt after attempt. It owns what every client of the gateway needs around an
 * attempt: the token asked before each one, the backoff with jitter (and Retry-After as its floor)
 * between them, the healthy timer, the AbortSignal, the timers and the state events. What a
 * connection carries, and whether another one is wanted, is its owner's business: GatewayClient
 * (calls) and RouteChatSocket (notes) decide in `onEnded` and call `reconnect`, `connect`, `idle`
 * or `close`.
 */

import { GatewayError } from '../../protocol/common/errors.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';
import type { Clock } from './clock.js';
import { localStatus } from './close-status.js';
import {
  type Backoff,
  type BackoffPolicy,
  backoffPolicy,
  createBackoff,
  isRetryable,
  type ReconnectOptions,
  type StreamEnding,
} from './reconnect.js';
import { fetchToken, type TokenSource, tokenFailureStatus } from './token.js';

/** The reconnecting part of a client's state; each client adds its own (half-closed, an outcome). */
export type ReconnectingState =
  | { readonly name: 'connecting'; readonly attempt: number }
  | { readonly name: 'open'; readonly protocol: string }
  | {
      readonly name: 'reconnecting';
      /** Failures in a row so far (1 for the first retry). */
      readonly attempt: number;
      readonly delayMs: number;
      readonly lastStatus: CallStatus;
    };

export type CoreState =
  | ReconnectingState
  /** No connection, and none needed yet. `lastStatus`: how the previous one ended. */
  | { readonly name: 'idle'; readonly lastStatus?: CallStatus }
  /** For good: `close()` or the signal. */
  | { readonly name: 'closed'; readonly status: CallStatus };

/** How one connection (or an attempt at one) ended. */
export interface LinkEnding extends StreamEnding {
  readonly closeReason: string;
  /** The connection had opened: the failure came after the handshake. */
  readonly opened: boolean;
  /** From a refused upgrade's Retry-After header. */
  readonly retryAfterMs?: number | undefined;
  /**
   * Set when the connection rode on a shared GatewayClient's socket, which ended it: `lost`, the
   * socket broke under it and the client reconnects for the next one by itself (so the next
   * attempt goes out at once, and the client's backoff does the waiting); `gave-up`, the client
   * could not get a socket within its own rules (nothing left to retry here).
   */
  readonly carrier?: 'lost' | 'gave-up' | undefined;
}

/** One attempt, from dial to its end. */
export interface Link {
  /** Stops it for good: closes what it holds and reports nothing more. */
  close(): void;
}

/** What a link reports to the core; calls after the link was replaced or closed are ignored. */
export interface LinkReport {
  opened(protocol: string): void;
  ended(ending: LinkEnding): void;
  /** The shared client this link waits for is itself connecting or backing off: shown as ours. */
  waiting(state: Exclude<ReconnectingState, { name: 'open' }>): void;
}

export interface ReconnectingCoreOptions<L extends Link> {
  readonly reconnect?: ReconnectOptions | undefined;
  /** Asked before every attempt; undefined: no token (or the carrier's). */
  readonly token?: TokenSource | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly clock: Clock;
  readonly random?: (() => number) | undefined;
  /** Starts one attempt. A throw ends it at once, not retried (a malformed URL, a closed client). */
  dial(token: string | undefined, report: LinkReport): L;
  onState(state: CoreState): void;
  /** After the 'open' state: the owner writes what waited. */
  onOpen(link: L): void;
  /** The attempt is over: the owner settles what it carried, then decides what comes next. */
  onEnded(ending: LinkEnding): void;
  /** The signal fired; the owner closes (gracefully or not) and ends with `close()`. */
  onAbort(why: string): void;
}

export interface ReconnectingCore<L extends Link> {
  readonly state: CoreState;
  /** The current attempt, from dial to its end; undefined between attempts and while a token is fetched. */
  readonly link: L | undefined;
  /** The signal has fired (it may have been aborted before the core existed). */
  readonly aborted: boolean;
  /** Starts an attempt now. */
  connect(): void;
  /** Reconnecting is on and another attempt may succeed where this one failed. */
  retryable(ending: LinkEnding): boolean;
  /**
   * Schedules the next attempt: after the backoff (Retry-After as a floor), or at once when the
   * carrier lost its socket. false when not retryable or the retries are used up.
   */
  reconnect(ending: LinkEnding): boolean;
  /** A reply arrived: the connection works, the next failure starts from attempt 1. */
  worked(): void;
  idle(lastStatus: CallStatus): void;
  /** For good: no more attempts or timers, the link closed, the signal forgotten. */
  close(status: CallStatus): void;
  /** A backoff of its own under the same policy (one call's retries); undefined without `reconnect`. */
  createBackoff(): Backoff | undefined;
}

export function createReconnectingCore<L extends Link>(
  options: ReconnectingCoreOptions<L>,
): ReconnectingCore<L> {
  const { clock, random } = options;
  const policy: BackoffPolicy | undefined = options.reconnect ? backoffPolicy(options.reconnect) : undefined;
  const backoff = policy ? createBackoff(policy, random) : undefined;
  let state: CoreState = { name: 'idle' };
  let link: L | undefined;
  /** Bumped per attempt: reports of an older attempt (a late token, a late event) are ignored. */
  let generation = 0;
  let reconnectTimer: unknown;
  let healthyTimer: unknown;
  let aborted = false;
  let forgetSignal: (() => void) | undefined;

  const setState = (next: CoreState) => {
    state = next;
    options.onState(next);
  };
  const clearTimer = (timer: unknown) => {
    if (timer !== undefined) clock.clearTimeout(timer);
  };
  const clearTimers = () => {
    clearTimer(reconnectTimer);
    clearTimer(healthyTimer);
    reconnectTimer = undefined;
    healthyTimer = undefined;
  };

  const signal = options.signal;
  if (signal?.aborted) {
    aborted = true;
    // The owner is still being constructed: it hears of it once it exists.
    queueMicrotask(() => options.onAbort('aborted by the signal'));
  } else if (signal) {
    const onAbort = () => {
      aborted = true;
      options.onAbort('aborted by the signal');
    };
    signal.addEventListener('abort', onAbort, { once: true });
    // A signal shared by many clients (one per app) must not keep every closed client alive.
    forgetSignal = () => signal.removeEventListener('abort', onAbort);
  }

  const opened = (protocol: string) => {
    if (!link) return;
    // Open is some proof of health, not enough (a gateway whose core is down opens, then fails
    // the call): the count resets after a reply, or after this long open.
    if (backoff && policy) {
      healthyTimer = clock.setTimeout(() => {
        healthyTimer = undefined;
        backoff.worked();
      }, policy.healthyAfterMs);
    }
    setState({ name: 'open', protocol });
    options.onOpen(link);
  };

  const dial = (attempt: number, token: string | undefined) => {
    /** A link may open while it is being dialled (a stream on a client whose socket is open). */
    let dialling = true;
    let openedWhileDialling: string | undefined;
    const report: LinkReport = {
      opened(protocol) {
        if (attempt !== generation) return;
        if (dialling) openedWhileDialling = protocol;
        else opened(protocol);
      },
      ended(ending) {
        if (attempt !== generation) return;
        generation += 1;
        link = undefined;
        clearTimers();
        options.onEnded(ending);
      },
      waiting(carrierState) {
        if (attempt === generation && state.name !== 'open') setState(carrierState);
      },
    };
    try {
      const started = options.dial(token, report);
      dialling = false;
      // Ended while being dialled: nothing to keep.
      if (attempt !== generation) return;
      link = started;
      if (openedWhileDialling !== undefined) opened(openedWhileDialling);
    } catch (error) {
      dialling = false;
      const status =
        error instanceof GatewayError
          ? localStatus(error.code, error.message)
          : localStatus(StatusCode.INVALID_ARGUMENT, error instanceof Error ? error.message : String(error));
      // Reported after the caller of connect() returns, as a socket's failure would be.
      queueMicrotask(() =>
        report.ended({ status, closeCode: 1006, closeReason: '', statusFrame: false, opened: false }),
      );
    }
  };

  /** The token could not be had: the attempt ends before any connection exists. */
  const tokenFailed = (attempt: number, status: CallStatus) => {
    if (attempt !== generation) return;
    generation += 1;
    options.onEnded({ status, closeCode: 1006, closeReason: '', statusFrame: false, opened: false });
  };

  const core: ReconnectingCore<L> = {
    get state() {
      return state;
    },
    get link() {
      return link;
    },
    get aborted() {
      return aborted;
    },
    connect() {
      if (aborted || state.name === 'closed') return;
      clearTimer(reconnectTimer);
      reconnectTimer = undefined;
      const attempt = ++generation;
      setState({ name: 'connecting', attempt: (backoff?.failures ?? 0) + 1 });
      const source = options.token;
      if (typeof source !== 'function') {
        dial(attempt, source);
        return;
      }
      // A fresh token for every attempt; the connection is started once it is known.
      fetchToken(source).then(
        (token) => {
          if (attempt === generation) dial(attempt, token);
        },
        (error: unknown) => tokenFailed(attempt, tokenFailureStatus(error)),
      );
    },
    retryable(ending) {
      return policy !== undefined && !aborted && ending.carrier !== 'gave-up' && isRetryable(ending);
    },
    reconnect(ending) {
      if (!core.retryable(ending)) return false;
      if (ending.carrier === 'lost') {
        core.connect();
        return true;
      }
      const next = backoff?.next(ending.retryAfterMs);
      if (!next) return false;
      setState({
        name: 'reconnecting',
        attempt: next.attempt,
        delayMs: next.delayMs,
        lastStatus: ending.status,
      });
      reconnectTimer = clock.setTimeout(() => {
        reconnectTimer = undefined;
        core.connect();
      }, next.delayMs);
      return true;
    },
    worked() {
      backoff?.worked();
    },
    idle(lastStatus) {
      setState({ name: 'idle', lastStatus });
    },
    close(status) {
      if (state.name === 'closed') return;
      forgetSignal?.();
      clearTimers();
      generation += 1;
      const current = link;
      link = undefined;
      current?.close();
      setState({ name: 'closed', status });
    },
    createBackoff() {
      return policy ? createBackoff(policy, random) : undefined;
    },
  };
  return core;
}
