/**
 * The v2 client: many calls of any method over one WebSocket (`GET /v2`). Each call is a stream;
 * `unary`, `serverStream`, `clientStream` and `bidi` are views of one `Call` (call-record.ts). Typed
 * by a method map (`RouteGuideMethods` for our service) in proto3 JSON names. The socket is opened
 * on first use and replaced when it breaks, by the reconnecting core RouteChatSocket uses too
 * (reconnecting-core.ts): calls not yet on a socket wait in a bounded outbox; calls on a socket that
 * broke end with UNAVAILABLE (an idempotent unary may be re-sent). Credit frames are handled here,
 * never by the application.
 */
import { GatewayError } from '../../protocol/common/errors.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';
import {
  binaryFramePrefix,
  binaryMessageFrame,
  decodeBinaryFrame,
  type ErrorFrameV2,
  type ServerFrameV2,
  serverFrameV2Schema,
  V2_BINARY_SUBPROTOCOL,
  V2_SUBPROTOCOL,
} from '../../protocol/v2/index.js';
import {
  type Call,
  type CallEnding,
  type CallObserver,
  type CallOptions,
  CallRecord,
  FrameRejectedError,
} from './call-record.js';
import { type Clock, systemClock } from './clock.js';
import { localStatus } from './close-status.js';
import type { MethodMap, RouteGuideMethods } from './method-map.js';
import { createOutbox, type Outbox, OutboxFullError } from './outbox.js';
import type { ReconnectOptions } from './reconnect.js';
import {
  type CoreState,
  createReconnectingCore,
  type LinkEnding,
  type ReconnectingCore,
} from './reconnecting-core.js';
import { readServerFrame } from './server-frame.js';
import { type Attempt, startAttempt } from './socket-attempt.js';
import { bearerSubprotocol, checkBearerToken, type TokenSource } from './token.js';
import { createEmitter, type Listener, type TypedEvents } from './typed-events.js';
import { resolveWebSocket, type WebSocketConstructor, type WebSocketLike } from './web-socket-like.js';

export type { Call, CallEvents, CallOptions } from './call-record.js';
export { FrameRejectedError } from './call-record.js';

export type {
  MethodMap,
  MethodsOf,
  MethodTypes,
  NoteFeedMethods,
  Proto3Json,
  RouteGuideMethods,
} from './method-map.js';

export interface GatewayClientOptions {
  /** Defaults to `globalThis.WebSocket` (browsers, Node 22+); in Node 20 pass `ws`'s `WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Sent as the `bearer.<token>` subprotocol. A function is called before every connection attempt
   * (a reconnect gets a fresh token); a 401 is never retried.
   */
  readonly token?: TokenSource;
  /**
   * Off by default: a socket that fails fails the calls waiting for it. With it, calls waiting for
   * a socket survive failed attempts, which are retried with backoff and jitter: UNAVAILABLE,
   * 1001, 1006, a handshake timeout, a 429/502/503/504 upgrade answer (honouring Retry-After).
   * Never a refused token, origin or path (401, 403, 404), `close()` or the signal.
   */
  readonly reconnect?: ReconnectOptions;
  /** No handshake answer within this time fails the attempt (DEADLINE_EXCEEDED). Default 10000. */
  readonly handshakeTimeoutMs?: number;
  /** Aborting closes the client for good: every call ends with CANCELLED, nothing reconnects. */
  readonly signal?: AbortSignal;
  /** Calls waiting for a socket, at most; one more throws OutboxFullError. Default 1000. */
  readonly outboxCapacity?: number;
  /**
   * `json` (default): messages are proto3 JSON values, in text frames (`gateway.v2`). `binary`:
   * messages are protobuf bytes, `Uint8Array` in and out, in binary frames (`gateway.v2.binary`);
   * type the client with a method map of `Uint8Array`s. The Connect transport uses it for
   * `useBinaryFormat`. A gateway that does not select the binary subprotocol fails the attempt
   * (UNIMPLEMENTED).
   */
  readonly messageEncoding?: 'json' | 'binary';
  /** For tests: the timers' clock and the jitter's random source. */
  readonly clock?: Clock;
  readonly random?: () => number;
}

/**
 * connecting {attempt}, open {protocol}, reconnecting {attempt, delayMs, lastStatus}, idle
 * {lastStatus?} (no socket, and none needed: the next call opens one), closed {status} (for good).
 */
export type GatewayClientState = CoreState;

export interface GatewayClientEvents {
  state: GatewayClientState;
  /** An error frame naming no stream (a frame the gateway could not attribute). */
  error: ErrorFrameV2;
}

const OPEN = 1;
const BY_CLIENT: CallEnding = { by: 'client' };
const BY_GATEWAY: CallEnding = { by: 'gateway' };
/** After its deadline, how long a call on the wire waits for the gateway's DEADLINE_EXCEEDED. */
const DEADLINE_GRACE_MS = 2000;

/** Set once by GatewayClient's static block: it reaches the private #start. */
let startObserved: (
  client: GatewayClient<MethodMap>,
  method: string,
  observer: CallObserver,
  metadata: Readonly<Record<string, string>> | undefined,
) => Call<unknown, unknown>;

/**
 * A call whose events go to `observer` as they happen (never to `messages`). Not for applications:
 * RouteChat's v2 transport runs its streams with it. Not exported from the package.
 */
export function openObservedCall<M extends MethodMap>(
  client: GatewayClient<M>,
  method: keyof M & string,
  observer: CallObserver,
  metadata?: Readonly<Record<string, string>>,
): Call<unknown, unknown> {
  return startObserved(client, method, observer, metadata);
}

export class GatewayClient<M extends MethodMap = RouteGuideMethods>
  implements TypedEvents<GatewayClientEvents>
{
  readonly #clock: Clock;
  readonly #events = createEmitter<GatewayClientEvents>();
  /** Calls waiting for a socket, in call order. */
  readonly #outbox: Outbox<CallRecord>;
  /** Calls opened on the current socket, by id. */
  readonly #live = new Map<string, CallRecord>();
  /** Idempotent unaries between attempts. */
  readonly #retrying = new Set<CallRecord>();
  /** Attempts, token, backoff, healthy timer, signal and state: the socket's lifecycle. */
  readonly #core: ReconnectingCore<Attempt>;
  /** The current socket, once open. */
  #socket: WebSocketLike | undefined;
  #nextId = 0;
  readonly #binary: boolean;

  static {
    startObserved = (client, method, observer, metadata) =>
      client.#start(method, metadata ? { metadata } : {}, false, observer).view();
  }

  /** `{ url: 'ws://host:port/v2', …options }`: the shape RouteChatSocket takes too. */
  constructor(options: GatewayClientOptions & { readonly url: string | URL });
  constructor(url: string | URL, options?: GatewayClientOptions);
  constructor(
    first: string | URL | (GatewayClientOptions & { readonly url: string | URL }),
    rest: GatewayClientOptions = {},
  ) {
    const { url, ...options } =
      typeof first === 'string' || first instanceof URL ? { ...rest, url: first } : first;
    const WebSocket = resolveWebSocket(options.WebSocket);
    if (typeof options.token === 'string') checkBearerToken(options.token);
    const clock = options.clock ?? systemClock;
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    const subprotocol = options.messageEncoding === 'binary' ? V2_BINARY_SUBPROTOCOL : V2_SUBPROTOCOL;
    this.#binary = subprotocol === V2_BINARY_SUBPROTOCOL;
    this.#clock = clock;
    this.#outbox = createOutbox<CallRecord>(
      options.outboxCapacity ?? 1000,
      (n) => new OutboxFullError(n, 'calls', 'wait for calls to settle before starting more'),
    );
    this.#core = createReconnectingCore<Attempt>({
      reconnect: options.reconnect,
      token: options.token,
      signal: options.signal,
      clock,
      random: options.random,
      dial: (token, report) =>
        startAttempt({
          url: String(url),
          protocols: [subprotocol, ...(token === undefined ? [] : [bearerSubprotocol(token)])],
          WebSocket,
          clock,
          handshakeTimeoutMs,
          // Binary frames to a peer that reads another protocol: not one is sent.
          ...(this.#binary ? { requiredProtocol: subprotocol } : {}),
          onOpen: (socket) => report.opened(socket.protocol),
          onMessage: (data) => this.#onMessage(data),
          onClose: (ending) => report.ended(ending),
        }),
      onState: (state) => this.#events.emit('state', state),
      onOpen: (attempt) => {
        this.#socket = attempt.socket;
        this.#pump();
      },
      onEnded: (ending) => this.#socketEnded(ending),
      onAbort: (why) => this.#shutDown(why),
    });
  }

  get state(): GatewayClientState {
    return this.#core.state;
  }

  /** Calls waiting for a socket. */
  get outboxSize(): number {
    return this.#outbox.size;
  }

  on<K extends keyof GatewayClientEvents>(event: K, listener: Listener<GatewayClientEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  off<K extends keyof GatewayClientEvents>(event: K, listener: Listener<GatewayClientEvents[K]>): void {
    this.#events.off(event, listener);
  }

  /**
   * Opens a stream of any kind. It goes out at once on an open socket, else waits in the outbox.
   * Throws OutboxFullError when the outbox is full, FAILED_PRECONDITION once the client is closed.
   */
  call<K extends keyof M & string>(
    method: K,
    options: CallOptions = {},
  ): Call<M[K]['request'], M[K]['response']> {
    return this.#start(method, options, false).view();
  }

  /**
   * One request, one response; rejects with a GatewayError on a non-OK status. A request the
   * gateway rejects (an error frame) cancels the stream and rejects with that error's code and
   * details (FrameRejectedError): it never waits for a deadline.
   */
  async unary<K extends keyof M & string>(
    method: K,
    request: M[K]['request'],
    options: CallOptions = {},
  ): Promise<M[K]['response']> {
    const record = this.#start(method, options, options.retry === 'idempotent');
    const call = record.view<M[K]['request'], M[K]['response']>();
    const rejected = this.#failOnErrorFrame(call);
    call.send(request);
    const responses: M[K]['response'][] = [];
    for await (const message of call.messages) responses.push(message);
    await this.#check(call.status, rejected);
    return responses[0] as M[K]['response'];
  }

  /** One request, a stream of responses; a rejected request cancels it, as for `unary`. */
  async *serverStream<K extends keyof M & string>(
    method: K,
    request: M[K]['request'],
    options?: CallOptions,
  ): AsyncGenerator<M[K]['response']> {
    const call = this.call(method, options);
    const rejected = this.#failOnErrorFrame(call);
    try {
      call.send(request);
      for await (const message of call.messages) yield message;
      await this.#check(call.status, rejected);
    } finally {
      // The consumer stopped early (break, throw): the call is not wanted any more.
      call.cancel();
    }
  }

  /**
   * A stream of requests, one response. A rejected request cancels the call and rejects: the
   * response would otherwise be computed without it.
   */
  async clientStream<K extends keyof M & string>(
    method: K,
    requests: Iterable<M[K]['request']> | AsyncIterable<M[K]['request']>,
    options?: CallOptions,
  ): Promise<M[K]['response']> {
    const call = this.call(method, options);
    const rejected = this.#failOnErrorFrame(call);
    for await (const request of requests) {
      if (rejected.frame) break;
      call.send(request);
    }
    call.end();
    const responses: M[K]['response'][] = [];
    for await (const message of call.messages) responses.push(message);
    await this.#check(call.status, rejected);
    return responses[0] as M[K]['response'];
  }

  /**
   * Both directions at once: the `Call` itself. Rejected frames arrive as its `error` events and
   * the stream goes on; if the socket breaks, the status is UNAVAILABLE and the application opens
   * a new call (the client reconnects for it).
   */
  bidi<K extends keyof M & string>(
    method: K,
    options?: CallOptions,
  ): Call<M[K]['request'], M[K]['response']> {
    return this.call(method, options);
  }

  /** Closes for good: every call not settled ends with CANCELLED; later calls throw. */
  close(): void {
    this.#shutDown('closed by the client');
  }

  #failOnErrorFrame(call: Call<unknown, unknown>): { frame?: ErrorFrameV2 } {
    const rejected: { frame?: ErrorFrameV2 } = {};
    call.on('error', (frame) => {
      if (rejected.frame) return;
      rejected.frame = frame;
      call.cancel();
    });
    return rejected;
  }

  async #check(status: Promise<CallStatus>, rejected: { frame?: ErrorFrameV2 }): Promise<void> {
    const final = await status;
    if (rejected.frame) throw new FrameRejectedError(rejected.frame);
    if (final.code !== StatusCode.OK) throw GatewayError.from(final);
  }

  #start(method: string, options: CallOptions, resendable: boolean, observer?: CallObserver): CallRecord {
    if (this.#core.state.name === 'closed' || this.#core.aborted) {
      throw new GatewayError(StatusCode.FAILED_PRECONDITION, 'the client is closed');
    }
    this.#nextId += 1;
    const host = { write: (frame: object) => this.#write(frame), cancel: (r: CallRecord) => this.#cancel(r) };
    const record = new CallRecord(
      `c${this.#nextId}`,
      method,
      options,
      resendable,
      this.#clock.now(),
      host,
      observer,
    );
    this.#outbox.push(record);
    if (options.timeoutMs !== undefined) this.#armDeadline(record, options.timeoutMs);
    if (this.#socket?.readyState === OPEN && this.#core.state.name === 'open') this.#pump();
    else if (this.#core.state.name === 'idle') this.#core.connect();
    return record;
  }

  /** Waiting for a socket does not stop the clock: past its deadline, a call ends here. */
  #armDeadline(record: CallRecord, timeoutMs: number): void {
    record.deadlineTimer = this.#clock.setTimeout(() => {
      if (record.phase !== 'wire') {
        this.#settle(record, localStatus(StatusCode.DEADLINE_EXCEEDED, 'deadline exceeded'));
        return;
      }
      // The gateway enforces it on the wire; this only guards against a gateway that never answers.
      record.deadlineTimer = this.#clock.setTimeout(() => {
        if (record.phase !== 'wire') return;
        this.#write({ type: 'cancel', id: record.id });
        this.#settle(record, localStatus(StatusCode.DEADLINE_EXCEEDED, 'deadline exceeded'));
      }, DEADLINE_GRACE_MS);
    }, timeoutMs);
  }

  #remainingMs(record: CallRecord): number | undefined {
    const timeoutMs = record.options.timeoutMs;
    return timeoutMs === undefined ? undefined : timeoutMs - (this.#clock.now() - record.startedAt);
  }

  /** Settles a call wherever it is and forgets it. */
  #settle(record: CallRecord, status: CallStatus, ending: CallEnding = BY_CLIENT): void {
    this.#outbox.remove(record);
    this.#retrying.delete(record);
    if (this.#live.get(record.id) === record) this.#live.delete(record.id);
    if (record.deadlineTimer !== undefined) this.#clock.clearTimeout(record.deadlineTimer);
    if (record.retryTimer !== undefined) this.#clock.clearTimeout(record.retryTimer);
    record.finish(status, ending);
  }

  #cancel(record: CallRecord): void {
    if (record.phase === 'done') return;
    // On the wire the gateway cancels the call; its CANCELLED status is not waited for.
    if (record.phase === 'wire') this.#write({ type: 'cancel', id: record.id });
    this.#settle(record, localStatus(StatusCode.CANCELLED, 'cancelled by the client'));
  }

  #write(frame: object): void {
    if (this.#socket?.readyState !== OPEN) return;
    const { type, id, message } = frame as { type?: unknown; id?: unknown; message?: unknown };
    if (this.#binary && type === 'message' && typeof id === 'string' && message instanceof Uint8Array)
      this.#socket.send(binaryMessageFrame(binaryFramePrefix(id), message));
    else this.#socket.send(JSON.stringify(frame));
  }

  /** Opens every waiting call on the open socket, oldest first. */
  #pump(): void {
    for (let record = this.#outbox.shift(); record; record = this.#outbox.shift()) {
      const remaining = this.#remainingMs(record);
      if (remaining !== undefined && remaining <= 0) {
        this.#settle(record, localStatus(StatusCode.DEADLINE_EXCEEDED, 'deadline exceeded'));
        continue;
      }
      this.#live.set(record.id, record);
      this.#write({
        type: 'open',
        id: record.id,
        method: record.method,
        ...(record.options.metadata ? { metadata: record.options.metadata } : {}),
        ...(remaining === undefined ? {} : { timeoutMs: Math.max(1, Math.ceil(remaining)) }),
        ...(record.options.responseHeaders ? { responseHeaders: true } : {}),
      });
      record.opened();
    }
  }

  #onMessage(data: unknown): void {
    if (this.#binary && (data instanceof ArrayBuffer || data instanceof Uint8Array)) {
      this.#onBinaryMessage(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
      return;
    }
    const frame = readServerFrame(serverFrameV2Schema, data);
    if (!frame) {
      this.#core.link?.fail(
        localStatus(StatusCode.INTERNAL, 'the gateway sent a frame outside the v2 contract'),
        1002,
      );
      return;
    }
    this.#onFrame(frame);
  }

  /** A binary message frame (gateway.v2.binary): the response's protobuf bytes, as the core sent them. */
  #onBinaryMessage(data: Uint8Array): void {
    const decoded = decodeBinaryFrame(data);
    if (!decoded.ok) {
      this.#core.link?.fail(
        localStatus(StatusCode.INTERNAL, `the gateway sent an invalid binary frame: ${decoded.problem}`),
        1002,
      );
      return;
    }
    const record = this.#live.get(decoded.id);
    if (!record) return;
    this.#core.worked();
    // A copy: the frame's buffer is the socket's, and the message may be kept.
    record.received(decoded.message.slice());
  }

  #onFrame(frame: ServerFrameV2): void {
    if (frame.id === undefined) {
      // Only error frames may name no stream.
      if (frame.type === 'error') this.#events.emit('error', frame);
      return;
    }
    const record = this.#live.get(frame.id);
    if (!record) return;
    switch (frame.type) {
      case 'message':
        // A reply: this socket reaches a working gateway.
        this.#core.worked();
        record.received(frame.message);
        return;
      case 'headers':
        record.receivedHeaders(frame.metadata);
        return;
      case 'credit':
        record.credit += frame.messages;
        record.flush();
        return;
      case 'error':
        record.rejected(frame);
        return;
      case 'status': {
        this.#live.delete(frame.id);
        const status: CallStatus = {
          code: frame.code as StatusCode,
          name: frame.name,
          message: frame.message,
          metadata: frame.metadata,
        };
        if (status.code === StatusCode.UNAVAILABLE && this.#scheduleResend(record)) return;
        this.#settle(record, status, BY_GATEWAY);
        return;
      }
    }
  }

  /**
   * An idempotent unary that met UNAVAILABLE goes back to the outbox after its own backoff delay;
   * false when it may not (not resendable, no reconnect policy, retries or deadline used up).
   */
  #scheduleResend(record: CallRecord, minimumDelayMs = 0): boolean {
    if (!record.resendable || this.#core.state.name === 'closed') return false;
    record.backoff ??= this.#core.createBackoff();
    const next = record.backoff?.next(minimumDelayMs);
    const remaining = this.#remainingMs(record);
    if (!next || (remaining !== undefined && remaining <= next.delayMs)) return false;
    record.resetForResend();
    record.phase = 'retry-wait';
    this.#retrying.add(record);
    record.retryTimer = this.#clock.setTimeout(() => {
      record.retryTimer = undefined;
      this.#retrying.delete(record);
      record.phase = 'queued';
      // Admitted once already: back in the outbox even when it is full (never a drop).
      this.#outbox.requeue([record]);
      if (this.#core.state.name === 'open') this.#pump();
      else if (this.#core.state.name === 'idle') this.#core.connect();
    }, next.delayMs);
    return true;
  }

  /** The socket (or the attempt) is gone: settle or keep its calls, then reconnect or go idle. */
  #socketEnded(ending: LinkEnding): void {
    this.#socket = undefined;
    const lost = localStatus(
      StatusCode.UNAVAILABLE,
      `connection lost (${ending.closeCode}${ending.closeReason ? `: ${ending.closeReason}` : ''})`,
    );
    const retryable = this.#core.retryable(ending);
    const onWire: CallEnding = { by: 'socket', socket: ending, onWire: true };
    for (const record of [...this.#live.values()]) {
      this.#live.delete(record.id);
      if (ending.status.code === StatusCode.INTERNAL) this.#settle(record, ending.status, onWire);
      else if (!retryable || !this.#scheduleResend(record)) this.#settle(record, lost, onWire);
    }
    if (this.#outbox.size > 0 && this.#core.reconnect(ending)) return;
    if (ending.opened && this.#outbox.size > 0) {
      // Calls made while an open socket was closing never had a socket: they get an attempt.
      this.#core.connect();
      return;
    }
    // Nothing to retry for (or no retrying allowed): what waits fails with this attempt's status.
    const waiting = this.#outbox.drain();
    for (const record of waiting)
      this.#settle(record, ending.status, { by: 'socket', socket: ending, onWire: false });
    // Retries used up for these calls: the next call gets a full set again.
    if (retryable && waiting.length > 0) this.#core.worked();
    this.#core.idle(ending.status);
  }

  #shutDown(why: string): void {
    if (this.#core.state.name === 'closed') return;
    const status = localStatus(StatusCode.CANCELLED, why);
    // Closing the socket cancels every call on it at the gateway.
    this.#core.close(status);
    this.#socket = undefined;
    for (const record of [...this.#live.values(), ...this.#retrying, ...this.#outbox.drain()]) {
      this.#settle(record, status);
    }
  }
}
