/**
 * One call of the v2 client: its phase across sockets, its credit window and the messages it holds
 * back, the responses not yet read, and the `Call` view the application gets. The client that owns
 * the socket (gateway-client.ts) moves it between phases; the record only writes through its host.
 */
import { GatewayError } from '../../protocol/common/errors.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';
import { type ErrorFrameV2, INITIAL_STREAM_CREDIT } from '../../protocol/v2/index.js';
import type { Backoff } from './reconnect.js';
import type { LinkEnding } from './reconnecting-core.js';
import { createEmitter, type Listener, type TypedEvents } from './typed-events.js';

export interface CallOptions {
  readonly metadata?: Readonly<Record<string, string>>;
  /** The call's deadline from its start (it keeps running while the call waits for a socket). */
  readonly timeoutMs?: number;
  /**
   * `unary` only. `idempotent`: a request in flight when the socket broke, or answered UNAVAILABLE,
   * is sent again (with `reconnect` set, under its backoff and within `timeoutMs`). Default `never`:
   * it rejects with UNAVAILABLE, since the core may or may not have run it.
   */
  readonly retry?: 'never' | 'idempotent';
  /** Ask for the core's response headers (`open.responseHeaders`): `headers` then carries them. */
  readonly responseHeaders?: boolean;
}

export interface CallEvents {
  /**
   * The gateway rejected a frame of this call (a message that is not valid proto3 JSON, no credit,
   * after `end`…). The frame was not used; the stream goes on.
   */
  error: ErrorFrameV2;
}

/** One stream. `messages` yields the responses; `status` settles with the final status (never rejects). */
export interface Call<Req, Res> extends TypedEvents<CallEvents> {
  readonly id: string;
  /** Queued until the stream is open on a socket and has credit; throws after `end()`. */
  send(message: Req): void;
  end(): void;
  cancel(): void;
  readonly messages: AsyncIterable<Res>;
  readonly status: Promise<CallStatus>;
  /**
   * With `responseHeaders`: the core's response headers, settled before the first message arrives,
   * or `{}` when the call ends without them (a Trailers-Only answer, or an ending before any).
   * Without: `{}` at once. Never rejects.
   */
  readonly headers: Promise<Readonly<Record<string, string>>>;
}

/** A rejected frame as an error: the status of the frame's code, its details and its reason. */
export class FrameRejectedError extends GatewayError {
  declare readonly reason: ErrorFrameV2['reason'];
  constructor(frame: ErrorFrameV2) {
    super(StatusCode[frame.code], frame.message, { reason: frame.reason, details: frame.details });
  }
}

/** Where a call's status came from. */
export type CallEnding =
  /** A status frame: the gateway's (or the core's) word. */
  | { readonly by: 'gateway' }
  /** Decided here: cancelled, past its deadline, or the client closed. */
  | { readonly by: 'client' }
  /** The socket it was on broke (`onWire`), or the client could not get one for it. */
  | { readonly by: 'socket'; readonly socket: LinkEnding; readonly onWire: boolean };

/**
 * A call's events reported as they happen, in order, instead of being queued for `messages`: for
 * a caller that runs the call itself (RouteChat's note session over v2).
 */
export interface CallObserver {
  /** The call is open on an open socket: messages go out now. */
  opened(): void;
  message(message: unknown): void;
  rejected(frame: ErrorFrameV2): void;
  ended(status: CallStatus, ending: CallEnding): void;
}

/**
 * queued: waiting for a socket (in the client's outbox). wire: opened on the current socket.
 * retry-wait: an idempotent unary between attempts. done: the status is settled.
 */
export type CallPhase = 'queued' | 'wire' | 'retry-wait' | 'done';

export interface CallHost {
  /** Writes a frame of this call on the current socket (only in phase `wire`). */
  write(frame: object): void;
  cancel(record: CallRecord): void;
}

export class CallRecord {
  phase: CallPhase = 'queued';
  credit = 0;
  /** Accepted by `send()`, not written yet (no socket, or no credit). */
  readonly pending: unknown[] = [];
  /** Written on the current stream; kept only when the call may be re-sent. */
  written: unknown[] = [];
  endRequested = false;
  endSent = false;
  readonly responses: unknown[] = [];
  readonly events = createEmitter<CallEvents>();
  deadlineTimer: unknown;
  retryTimer: unknown;
  backoff: Backoff | undefined;
  readonly status: Promise<CallStatus>;
  readonly headers: Promise<Readonly<Record<string, string>>>;
  #wake: (() => void) | undefined;
  #resolve!: (status: CallStatus) => void;
  #resolveHeaders!: (headers: Readonly<Record<string, string>>) => void;

  constructor(
    readonly id: string,
    readonly method: string,
    readonly options: CallOptions,
    /** This call may be re-sent (an idempotent unary). */
    readonly resendable: boolean,
    readonly startedAt: number,
    private readonly host: CallHost,
    private readonly observer?: CallObserver,
  ) {
    this.status = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    this.headers = new Promise((resolve) => {
      this.#resolveHeaders = resolve;
    });
    if (!options.responseHeaders) this.#resolveHeaders({});
  }

  /** The core's response headers (a `headers` frame); only the first settles `headers`. */
  receivedHeaders(metadata: Readonly<Record<string, string>>): void {
    this.#resolveHeaders(metadata);
  }

  /** The stream is open on a new socket: its credit starts over. */
  opened(): void {
    this.phase = 'wire';
    this.credit = INITIAL_STREAM_CREDIT;
    this.flush();
    this.observer?.opened();
  }

  /** Writes what the credit allows, then `end` once nothing is held back. */
  flush(): void {
    if (this.phase !== 'wire') return;
    while (this.credit > 0 && this.pending.length > 0) {
      this.credit -= 1;
      const message = this.pending.shift();
      if (this.resendable) this.written.push(message);
      this.host.write({ type: 'message', id: this.id, message });
    }
    if (this.pending.length === 0 && this.endRequested && !this.endSent) {
      this.endSent = true;
      this.host.write({ type: 'end', id: this.id });
    }
  }

  received(message: unknown): void {
    if (this.observer) {
      this.observer.message(message);
      return;
    }
    this.responses.push(message);
    this.#wake?.();
  }

  /** The gateway refused a frame of this call; the stream goes on. */
  rejected(frame: ErrorFrameV2): void {
    this.events.emit('error', frame);
    this.observer?.rejected(frame);
  }

  /** Back to the outbox, as if never written: the next stream starts from the first message. */
  resetForResend(): void {
    this.pending.unshift(...this.written);
    this.written = [];
    this.endSent = false;
    this.credit = 0;
    this.responses.length = 0;
    this.phase = 'queued';
  }

  /** Settles the status once; false when it was already settled. */
  finish(status: CallStatus, ending: CallEnding): boolean {
    if (this.phase === 'done') return false;
    this.phase = 'done';
    this.#resolveHeaders({});
    this.#resolve(status);
    this.#wake?.();
    this.observer?.ended(status, ending);
    return true;
  }

  view<Req, Res>(): Call<Req, Res> {
    const record = this;
    const messages: AsyncIterable<Res> = {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<Res>> => {
          for (;;) {
            if (record.responses.length > 0) return { value: record.responses.shift() as Res, done: false };
            if (record.phase === 'done') return { value: undefined, done: true };
            await new Promise<void>((resolve) => {
              record.#wake = resolve;
            });
          }
        },
      }),
    };
    return {
      id: record.id,
      send(message: Req) {
        if (record.endRequested) {
          throw new GatewayError(StatusCode.FAILED_PRECONDITION, 'cannot send after end()');
        }
        // A message for a call already over goes nowhere (its status says why).
        if (record.phase === 'done') return;
        record.pending.push(message);
        record.flush();
      },
      end() {
        if (record.endRequested || record.phase === 'done') return;
        record.endRequested = true;
        record.flush();
      },
      cancel: () => record.host.cancel(record),
      messages,
      status: record.status,
      headers: record.headers,
      on: <K extends keyof CallEvents>(event: K, listener: Listener<CallEvents[K]>) =>
        record.events.on(event, listener),
      off: <K extends keyof CallEvents>(event: K, listener: Listener<CallEvents[K]>) =>
        record.events.off(event, listener),
    };
  }
}
