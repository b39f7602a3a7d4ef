/**
 * `RouteChatSocket`: RouteChat over the v1 WebSocket contract, typed end to end, surviving restarts.
 * Runs unchanged in browsers (global `WebSocket`) and in Node (pass `ws`'s `WebSocket`); this file
 * never imports `ws`. Frames are validated with the protocol's own zod schemas, in both directions.
 *
 * With `reconnect`, one RouteChatSocket spans several streams: notes wait in a bounded outbox while
 * no stream is open and every note gets a fate (see fates.ts for the matching rules).
 */
import { closeCodeForStatus } from '../../protocol/common/close-codes.js';
import { GatewayError } from '../../protocol/common/errors.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';
import {
  type ErrorFrame,
  type NoteFrame,
  type RouteNoteInput,
  type RouteNoteJson,
  routeNoteSchema,
  SUBPROTOCOL,
  serverFrameSchema,
} from '../../protocol/v1/frames.js';
import { type Clock, systemClock } from './clock.js';
import { localStatus } from './close-status.js';
import { createInFlight, type FateName, type InFlight, NOTE_OUTCOME_TRAILER, noteKey } from './fates.js';
import { createOutbox, type Outbox } from './outbox.js';
import {
  type Backoff,
  type BackoffPolicy,
  backoffPolicy,
  createBackoff,
  isRetryable,
  type ReconnectOptions,
} from './reconnect.js';
import { readServerFrame } from './server-frame.js';
import { type Attempt, type AttemptEnding, startAttempt } from './socket-attempt.js';
import {
  bearerSubprotocol,
  checkBearerToken,
  fetchToken,
  type TokenSource,
  tokenFailureStatus,
} from './token.js';
import { createEmitter, type Listener, type TypedEvents } from './typed-events.js';
import { resolveWebSocket, type WebSocketConstructor } from './web-socket-like.js';

export type { ReconnectOptions } from './reconnect.js';
export type { TokenSource } from './token.js';

export interface RouteChatSocketOptions {
  /** `ws://host:port/v1/routechat` (or `wss://`). */
  readonly url: string | URL;
  /**
   * Sent as the `bearer.<token>` subprotocol; the gateway turns it into `authorization: Bearer
   * <token>`. A function is called before every attempt; a 401 is never retried.
   */
  readonly token?: TokenSource;
  /** Defaults to `globalThis.WebSocket` (browsers, Node 22+); in Node 20 pass `ws`'s `WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Off by default. A new connection is a new RouteChat stream; notes waiting in the outbox, and
   * refused ones, go out on it. Retried: UNAVAILABLE, a gateway going away (1001), an abnormal
   * close (1006), a handshake timeout, a 429/502/503/504 upgrade answer (honouring Retry-After),
   * CANCELLED sent by the server. Never: a refused token, origin or path, an invalid note, a policy
   * close, `close()` or the signal; after `end()` only to deliver notes still waiting.
   */
  readonly reconnect?: ReconnectOptions;
  /**
   * With `reconnect`: how long a new stream stays open before notes are written on it. A gateway
   * whose core is down accepts the socket, then fails the call within milliseconds; a note written
   * meanwhile would get the fate unknown, one held back stays in the outbox. Default 250.
   */
  readonly settleMs?: number;
  /** No handshake answer within this time fails the attempt (DEADLINE_EXCEEDED). Default 10000. */
  readonly handshakeTimeoutMs?: number;
  /** Aborting closes the socket for good (status CANCELLED) and stops every reconnect. */
  readonly signal?: AbortSignal;
  /** Notes waiting for a stream, at most; `send()` beyond it throws OutboxFullError. Default 1000. */
  readonly outboxCapacity?: number;
  /** Notes written and not yet settled, at most, per stream: bounds the unknown fates. Default 32. */
  readonly maxInFlight?: number;
  /**
   * What happens to a note whose fate is unknown (in flight when a stream broke): reported and
   * dropped (`at-most-once`, the default), or reported and resent on the next stream (`at-least-once`:
   * the core may then store it twice).
   */
  readonly delivery?: 'at-most-once' | 'at-least-once';
  /** For tests: the timers' clock and the jitter's random source. */
  readonly clock?: Clock;
  readonly random?: () => number;
}

/** How the stream ended: the final status and the WebSocket close that carried it. */
export interface CloseOutcome {
  readonly status: CallStatus;
  /** The close code received; 1006 when the connection never opened or was dropped. */
  readonly closeCode: number;
  readonly closeReason: string;
  /** false when the status was derived from the close (or set locally), not sent by the gateway. */
  readonly statusFrame: boolean;
  /** The HTTP status of a refused upgrade (Node only: browsers do not expose it). */
  readonly httpStatus?: number;
}

export type ConnectionState =
  | { readonly name: 'connecting'; readonly attempt: number }
  | { readonly name: 'open'; readonly protocol: string }
  /** `end()` was called: the gateway may still send notes, then the status. */
  | { readonly name: 'half-closed' }
  | {
      readonly name: 'reconnecting';
      /** Failures in a row so far (1 for the first retry). */
      readonly attempt: number;
      readonly delayMs: number;
      readonly lastStatus: CallStatus;
    }
  | { readonly name: 'closed'; readonly outcome: CloseOutcome };

/** What became of one note sent with `send()`. */
export interface NoteFate {
  /** Per socket, from 1, in `send()` order. */
  readonly id: number;
  readonly note: RouteNoteJson;
  /**
   * confirmed: its echo came back. refused: the gateway did not take it (draining, flooding).
   * rejected: the gateway refused its content. unknown: in flight when the stream broke. unsent:
   * still waiting when the socket closed for good.
   */
  readonly fate: FateName;
  /** true when the note went back to the outbox to go out on the next stream (not final yet). */
  readonly resend: boolean;
  /** Streams the note was written on. */
  readonly attempts: number;
  /** confirmed: from the write to the echo, in ms. */
  readonly latencyMs?: number;
  /** refused, rejected: the gateway's error frame, when one is known. */
  readonly error?: ErrorFrame;
  /** unknown, unsent: the status of the stream that ended. */
  readonly status?: CallStatus;
}

export interface RouteChatEvents {
  state: ConnectionState;
  /** A note from the core. */
  note: NoteFrame;
  /** The gateway rejected a frame we sent; the stream stays open. */
  error: ErrorFrame;
  /** Every fate of every note, the intermediate ones (`resend: true`) included. */
  fate: NoteFate;
  /** The final status (once, whatever the cause). */
  status: CallStatus;
}

const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const END_FRAME = JSON.stringify({ type: 'end' });

/** A frame waiting in the outbox or in flight. */
interface Item {
  readonly text: string;
  /** noteKey() for a note; undefined for a raw frame or the end frame. */
  readonly key: string | undefined;
  readonly note?: {
    readonly id: number;
    readonly value: RouteNoteJson;
    readonly settle: (fate: NoteFate) => void;
  };
  attempts: number;
}

export class RouteChatSocket implements TypedEvents<RouteChatEvents>, AsyncIterable<NoteFrame> {
  /** Resolves with the final status; never rejects. */
  readonly status: Promise<CallStatus>;
  /** Resolves once the socket is closed for good (after any reconnects). */
  readonly closed: Promise<CloseOutcome>;

  readonly #events = createEmitter<RouteChatEvents>();
  readonly #url: string;
  readonly #token: TokenSource | undefined;
  readonly #WebSocket: WebSocketConstructor;
  readonly #policy: BackoffPolicy | undefined;
  readonly #backoff: Backoff | undefined;
  readonly #handshakeTimeoutMs: number;
  readonly #settleMs: number;
  readonly #maxInFlight: number;
  readonly #atLeastOnce: boolean;
  readonly #clock: Clock;
  /** Removes the listener on the caller's AbortSignal (when one was given). */
  #forgetSignal: (() => void) | undefined;
  readonly #outbox: Outbox<Item>;
  #state: ConnectionState = { name: 'connecting', attempt: 1 };
  /** The current connection attempt (its socket), from creation until its close. */
  #attempt: Attempt | undefined;
  /** The current stream's frames written and not settled. */
  #inFlight: InFlight<Item> = createInFlight();
  /** Bumped per attempt: callbacks of an older attempt (a late token, a late event) are ignored. */
  #generation = 0;
  #ended = false;
  #endSent = false;
  /** The current stream echoed a note: it reaches the core, so the whole window may be used. */
  #streamProven = false;
  #closedByUser = false;
  /** The current connection's status frame, if one arrived. */
  #frameStatus: CallStatus | undefined;
  /** A status decided here: closed by the user, a malformed URL, a frame outside the contract. */
  #localStatus: CallStatus | undefined;
  #finalStatus: CallStatus | undefined;
  #nextNoteId = 1;
  /** The reconnect delay. */
  #timer: unknown;
  /** A token function's answer is awaited: no socket yet. */
  #fetchingToken = false;
  #healthyTimer: unknown;
  /** Set while a new stream settles: nothing is written until it fires. */
  #settleTimer: unknown;
  #resolveStatus!: (status: CallStatus) => void;
  #resolveClosed!: (outcome: CloseOutcome) => void;

  constructor(options: RouteChatSocketOptions) {
    const ctor = resolveWebSocket(options.WebSocket);
    if (typeof options.token === 'string') checkBearerToken(options.token);
    this.#WebSocket = ctor;
    this.#url = String(options.url);
    this.#token = options.token;
    this.#clock = options.clock ?? systemClock;
    this.#policy = options.reconnect ? backoffPolicy(options.reconnect) : undefined;
    this.#backoff = this.#policy ? createBackoff(this.#policy, options.random) : undefined;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.#settleMs = options.reconnect ? (options.settleMs ?? 250) : 0;
    this.#maxInFlight = options.maxInFlight ?? 32;
    this.#atLeastOnce = options.delivery === 'at-least-once';
    this.#outbox = createOutbox(options.outboxCapacity ?? 1000);
    this.status = new Promise((resolve) => {
      this.#resolveStatus = resolve;
    });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    const signal = options.signal;
    if (signal?.aborted) {
      this.#localStatus = localStatus(StatusCode.CANCELLED, 'aborted by the signal');
      this.#closedByUser = true;
      queueMicrotask(() => this.#finishLocally());
      return;
    }
    if (signal) {
      const onAbort = () => this.#abort('aborted by the signal');
      signal.addEventListener('abort', onAbort, { once: true });
      // A signal shared by many sockets (one per app) must not keep every closed socket alive.
      this.#forgetSignal = () => signal.removeEventListener('abort', onAbort);
    }
    this.#connect();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The subprotocol the gateway selected (`routechat.v1`), or '' before open. */
  get protocol(): string {
    return this.#attempt?.socket.protocol ?? '';
  }

  get bufferedAmount(): number {
    return this.#attempt?.socket.bufferedAmount ?? 0;
  }

  /** Notes waiting for a stream (disconnected, or the in-flight window is full). */
  get outboxSize(): number {
    return this.#outbox.items().filter((item) => item.note).length;
  }

  /** Notes written on the current stream and not settled yet. */
  get inFlight(): number {
    return this.#inFlight.notes;
  }

  /** The notes waiting in the outbox, oldest first. */
  queued(): RouteNoteJson[] {
    return this.#outbox.items().flatMap((item) => (item.note ? [item.note.value] : []));
  }

  on<K extends keyof RouteChatEvents>(event: K, listener: Listener<RouteChatEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  off<K extends keyof RouteChatEvents>(event: K, listener: Listener<RouteChatEvents[K]>): void {
    this.#events.off(event, listener);
  }

  /**
   * Validates `note` with the protocol's RouteNote schema and queues it; it goes out at once when a
   * stream is open and the in-flight window allows. Resolves with its final fate (never rejects).
   * Throws a GatewayError: INVALID_ARGUMENT with details for a bad note, FAILED_PRECONDITION after
   * `end()` or once closed, OutboxFullError (RESOURCE_EXHAUSTED) when the outbox is full.
   */
  send(note: RouteNoteInput): Promise<NoteFate> {
    const parsed = routeNoteSchema.safeParse(note);
    if (!parsed.success) {
      const details = parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.'),
        message: issue.message,
      }));
      const first = details[0];
      throw new GatewayError(
        StatusCode.INVALID_ARGUMENT,
        `invalid RouteNote${first ? `: ${first.path || '(note)'}: ${first.message}` : ''}`,
        details,
      );
    }
    this.#checkWritable();
    const value = parsed.data;
    let settle!: (fate: NoteFate) => void;
    const fate = new Promise<NoteFate>((resolve) => {
      settle = resolve;
    });
    this.#outbox.push({
      text: JSON.stringify(value),
      key: noteKey(value),
      note: { id: this.#nextNoteId, value, settle },
      attempts: 0,
    });
    this.#nextNoteId += 1;
    this.#pump();
    return fate;
  }

  /** Sends a text frame as-is, unvalidated and without a fate: for tools that test the gateway. */
  sendRaw(text: string): void {
    this.#checkWritable();
    this.#outbox.push({ text, key: undefined, attempts: 0 });
    this.#pump();
  }

  /**
   * Half-close: no more notes from us. The end frame goes out once the outbox is empty; the gateway
   * still delivers replies, then the status.
   */
  end(): void {
    if (this.#ended || this.#state.name === 'closed') return;
    this.#ended = true;
    if (this.#state.name === 'open') this.#setState({ name: 'half-closed' });
    this.#pump();
  }

  /** Abrupt close: the call is cancelled; the status is CANCELLED unless one already arrived. */
  close(): void {
    this.#abort('closed by the client');
  }

  /** Notes received from now on, until the final status. Create it before awaiting anything. */
  async *notes(): AsyncGenerator<NoteFrame, void, undefined> {
    const queue: NoteFrame[] = [];
    let wake: (() => void) | undefined;
    let done = this.#finalStatus !== undefined;
    const offNote = this.on('note', (note) => {
      queue.push(note);
      wake?.();
    });
    const offStatus = this.on('status', () => {
      done = true;
      wake?.();
    });
    try {
      while (true) {
        const next = queue.shift();
        if (next) yield next;
        else if (done) return;
        else
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
      }
    } finally {
      offNote();
      offStatus();
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<NoteFrame, void, undefined> {
    return this.notes();
  }

  #abort(why: string) {
    if (this.#state.name === 'closed') return;
    this.#closedByUser = true;
    this.#localStatus ??= localStatus(StatusCode.CANCELLED, why);
    const socket = this.#attempt?.socket;
    if (socket && this.#timer === undefined && !this.#fetchingToken && socket.readyState !== CLOSED) {
      // The close event settles the stream (a socket already closing just gets there).
      if (socket.readyState !== CLOSING) socket.close(1000, 'client closed');
      return;
    }
    // Between attempts (a backoff delay, a token being fetched): nothing to close.
    this.#finishLocally();
  }

  #finishLocally() {
    this.#clearTimers();
    this.#generation += 1;
    const status = this.#localStatus ?? localStatus(StatusCode.CANCELLED, 'closed by the client');
    this.#finish({ status, closeCode: 1000, closeReason: '', statusFrame: false });
  }

  #checkWritable() {
    if (this.#ended || this.#state.name === 'closed') {
      throw new GatewayError(
        StatusCode.FAILED_PRECONDITION,
        this.#ended ? 'cannot send after end()' : 'the stream is closed',
      );
    }
  }

  #setState(state: ConnectionState) {
    this.#state = state;
    this.#events.emit('state', state);
  }

  #clearTimers() {
    for (const timer of [this.#timer, this.#healthyTimer, this.#settleTimer]) {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
    }
    this.#timer = undefined;
    this.#healthyTimer = undefined;
    this.#settleTimer = undefined;
  }

  #settle(item: Item, fate: Omit<NoteFate, 'id' | 'note' | 'attempts'>) {
    const note = item.note;
    if (!note) return;
    const value: NoteFate = { id: note.id, note: note.value, attempts: item.attempts, ...fate };
    this.#events.emit('fate', value);
    if (!value.resend) note.settle(value);
  }

  /** Writes what the outbox holds, as far as the in-flight window allows; then the end frame. */
  #pump() {
    const socket = this.#attempt?.socket;
    if (this.#state.name !== 'open' && this.#state.name !== 'half-closed') return;
    if (!socket || socket.readyState !== OPEN || this.#inFlight.refusing) return;
    if (this.#settleTimer !== undefined) return;
    for (let item = this.#outbox.peek(); item; item = this.#outbox.peek()) {
      // Slow start: one note until the stream's first echo. A gateway whose core is down opens the
      // socket, then fails the call: whatever was in flight then has an unknown fate.
      const window = this.#streamProven ? this.#maxInFlight : 1;
      if (item.key !== undefined && this.#inFlight.notes >= window) return;
      this.#outbox.shift();
      item.attempts += 1;
      socket.send(item.text);
      this.#inFlight.sent(item, this.#clock.now());
    }
    if (this.#ended && !this.#endSent) {
      this.#endSent = true;
      socket.send(END_FRAME);
      // Tracked like a raw frame: a draining gateway's refusal of it counts in the refused suffix.
      this.#inFlight.sent({ text: END_FRAME, key: undefined, attempts: 1 }, this.#clock.now());
    }
  }

  #connect() {
    const generation = ++this.#generation;
    const token = this.#token;
    if (typeof token !== 'function') {
      this.#open(token);
      return;
    }
    // A fresh token for every attempt; the socket is created once it is known.
    this.#fetchingToken = true;
    fetchToken(token).then(
      (value) => {
        if (generation !== this.#generation || this.#state.name === 'closed') return;
        this.#fetchingToken = false;
        this.#open(value);
      },
      (error: unknown) => {
        if (generation !== this.#generation || this.#state.name === 'closed') return;
        this.#fetchingToken = false;
        const status = tokenFailureStatus(error);
        this.#streamEnded({ status, closeCode: 1006, closeReason: '', statusFrame: false });
      },
    );
  }

  #open(token: string | undefined) {
    const generation = this.#generation;
    const protocols = [SUBPROTOCOL, ...(token === undefined ? [] : [bearerSubprotocol(token)])];
    let attempt: Attempt;
    try {
      attempt = startAttempt({
        url: this.#url,
        protocols,
        WebSocket: this.#WebSocket,
        clock: this.#clock,
        handshakeTimeoutMs: this.#handshakeTimeoutMs,
        onOpen: (socket) => {
          if (generation === this.#generation) this.#streamOpened(socket.protocol);
        },
        onMessage: (data) => {
          if (generation === this.#generation) this.#onMessage(data);
        },
        onClose: (ending) => {
          if (generation === this.#generation) this.#socketClosed(ending);
        },
      });
    } catch (error) {
      // A malformed URL: nothing to retry.
      this.#localStatus = localStatus(
        StatusCode.INVALID_ARGUMENT,
        error instanceof Error ? error.message : String(error),
      );
      queueMicrotask(() =>
        this.#finish({ status: this.#localStatus!, closeCode: 1006, closeReason: '', statusFrame: false }),
      );
      return;
    }
    this.#attempt = attempt;
    this.#frameStatus = undefined;
    this.#endSent = false;
    this.#streamProven = false;
    this.#inFlight = createInFlight();
  }

  /** The attempt's socket opened: a new stream. */
  #streamOpened(protocol: string) {
    // Open is not proof of health (a gateway whose core is down opens, then closes with 4014).
    if (this.#backoff && this.#policy) {
      const backoff = this.#backoff;
      this.#healthyTimer = this.#clock.setTimeout(() => {
        this.#healthyTimer = undefined;
        backoff.worked();
      }, this.#policy.healthyAfterMs);
    }
    if (this.#settleMs > 0) {
      this.#settleTimer = this.#clock.setTimeout(() => {
        this.#settleTimer = undefined;
        this.#pump();
      }, this.#settleMs);
    }
    this.#setState(this.#ended ? { name: 'half-closed' } : { name: 'open', protocol });
    this.#pump();
  }

  /** The attempt's socket closed: the stream's status is its status frame, else one decided here. */
  #socketClosed(ending: AttemptEnding) {
    this.#clearTimers();
    const status = this.#frameStatus ?? this.#localStatus ?? ending.status;
    this.#streamEnded(
      {
        status,
        closeCode: ending.closeCode,
        closeReason: ending.closeReason,
        statusFrame: this.#frameStatus !== undefined,
        ...(ending.httpStatus === undefined ? {} : { httpStatus: ending.httpStatus }),
      },
      { handshakeTimedOut: ending.handshakeTimedOut, retryAfterMs: ending.retryAfterMs },
    );
  }

  #onMessage(data: unknown) {
    if (this.#frameStatus || this.#localStatus) return;
    const value = readServerFrame(serverFrameSchema, data);
    if (!value) {
      this.#localStatus = localStatus(
        StatusCode.INTERNAL,
        'the gateway sent a frame outside the v1 contract',
      );
      this.#attempt?.socket.close(closeCodeForStatus(StatusCode.INTERNAL), 'invalid frame');
      return;
    }
    if (!('type' in value)) {
      // A reply: this stream works.
      this.#backoff?.worked();
      this.#streamProven = true;
      const confirmed = this.#inFlight.received(noteKey(value));
      if (confirmed) {
        this.#settle(confirmed.item, {
          fate: 'confirmed',
          resend: false,
          latencyMs: this.#clock.now() - confirmed.sentAt,
        });
      }
      this.#events.emit('note', value);
      if (confirmed) this.#pump();
    } else if (value.type === 'error') {
      const rejected = this.#inFlight.errorFrame(value.reason);
      if (rejected) this.#settle(rejected, { fate: 'rejected', resend: false, error: value });
      this.#events.emit('error', value);
    } else {
      const { type: _type, ...status } = value;
      // The number and the name come from the same frame; the schema checked both are in range.
      this.#frameStatus = status as CallStatus;
    }
  }

  /** One stream is over: settle its notes, then reconnect or finish. */
  #streamEnded(
    outcome: CloseOutcome,
    extra: Partial<Pick<AttemptEnding, 'handshakeTimedOut' | 'retryAfterMs'>> = {},
  ) {
    const { refused, unknown } = this.#inFlight.settle(outcome.status?.metadata[NOTE_OUTCOME_TRAILER]);
    const policy = this.#policy;
    const retryable =
      policy !== undefined &&
      !this.#closedByUser &&
      this.#localStatus === undefined &&
      isRetryable({ ...outcome, handshakeTimedOut: extra.handshakeTimedOut });
    const refusedNotes = refused.filter((item) => item.note);
    const unknownNotes = unknown.filter((item) => item.note);
    const willResendUnknown = retryable && this.#atLeastOnce;
    for (const item of refusedNotes) this.#settle(item, { fate: 'refused', resend: retryable });
    for (const item of unknownNotes) {
      this.#settle(item, { fate: 'unknown', resend: willResendUnknown, status: outcome.status });
    }
    if (retryable) {
      this.#outbox.requeue([...(willResendUnknown ? unknownNotes : []), ...refusedNotes]);
    }
    // After end(), a new stream only to deliver what is still waiting.
    const wanted = !this.#ended || this.#outbox.items().some((item) => item.note);
    const next = retryable && wanted ? this.#backoff?.next(extra.retryAfterMs) : undefined;
    if (!next) {
      this.#finish(outcome);
      return;
    }
    this.#attempt = undefined;
    this.#setState({
      name: 'reconnecting',
      attempt: next.attempt,
      delayMs: next.delayMs,
      lastStatus: outcome.status,
    });
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#setState({ name: 'connecting', attempt: next.attempt + 1 });
      this.#connect();
    }, next.delayMs);
  }

  #finish(outcome: CloseOutcome) {
    if (this.#state.name === 'closed') return;
    this.#forgetSignal?.();
    this.#clearTimers();
    // Closed for good before the socket's close event (if any): its handshake timer stops too.
    this.#attempt?.close();
    for (const item of this.#outbox.drain()) {
      this.#settle(item, { fate: 'unsent', resend: false, status: outcome.status });
    }
    this.#finalStatus = outcome.status;
    this.#resolveStatus(outcome.status);
    this.#events.emit('status', outcome.status);
    this.#setState({ name: 'closed', outcome });
    this.#resolveClosed(outcome);
  }
}
