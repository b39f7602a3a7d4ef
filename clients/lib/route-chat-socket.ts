/**
 * `RouteChatSocket`: one RouteChat stream over the v1 WebSocket contract, typed end to end. Runs
 * unchanged in browsers (global `WebSocket`) and in Node (pass `ws`'s `WebSocket`); this file never
 * imports `ws`. Frames are validated with the protocol's own zod schemas, in both directions.
 */
import { closeCodeForStatus } from '../../protocol/close-codes.js';
import {
  BEARER_SUBPROTOCOL_PREFIX,
  type ErrorFrame,
  type NoteFrame,
  type RouteNoteInput,
  routeNoteSchema,
  SUBPROTOCOL,
  serverFrameSchema,
} from '../../protocol/frames.js';
import { type CallStatus, GatewayError, StatusCode, statusName } from '../../protocol/status.js';
import { statusForClose } from './close-status.js';
import { createEmitter, type Listener, type TypedEvents } from './typed-events.js';
import type { WebSocketConstructor, WebSocketLike } from './web-socket-like.js';

export interface ReconnectOptions {
  /** Attempts after a failed or dropped connection before giving up (the count resets on open). */
  readonly retries: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly multiplier?: number;
}

export interface RouteChatSocketOptions {
  /** `ws://host:port/v1/routechat` (or `wss://`). */
  readonly url: string | URL;
  /** Sent as the `bearer.<token>` subprotocol; the gateway turns it into `authorization: Bearer <token>`. */
  readonly token?: string;
  /** Defaults to `globalThis.WebSocket` (browsers, Node 22+); in Node 20 pass `ws`'s `WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Off by default. A RouteChat stream is not resumable: a reconnect opens a new stream, notes sent
   * on the old one are not replayed and replies to them are lost. Only UNAVAILABLE (the connection
   * failed or dropped, or the core was unreachable) is retried, and never after `end()` or `close()`.
   */
  readonly reconnect?: ReconnectOptions;
}

/** How the stream ended: the final status and the WebSocket close that carried it. */
export interface CloseOutcome {
  readonly status: CallStatus;
  /** The close code received; 1006 when the connection never opened or was dropped. */
  readonly closeCode: number;
  readonly closeReason: string;
  /** false when the status was derived from the close (or set locally), not sent by the gateway. */
  readonly statusFrame: boolean;
}

export type ConnectionState =
  | { readonly name: 'connecting'; readonly attempt: number }
  | { readonly name: 'open'; readonly protocol: string }
  /** `end()` was called: the gateway may still send notes, then the status. */
  | { readonly name: 'half-closed' }
  | {
      readonly name: 'reconnecting';
      readonly attempt: number;
      readonly delayMs: number;
      readonly lastStatus: CallStatus;
    }
  | { readonly name: 'closed'; readonly outcome: CloseOutcome };

export interface RouteChatEvents {
  state: ConnectionState;
  /** A note from the core. */
  note: NoteFrame;
  /** The gateway rejected a frame we sent; the stream stays open. */
  error: ErrorFrame;
  /** The final status (once, whatever the cause). */
  status: CallStatus;
}

const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const OPEN = 1;

const localStatus = (code: StatusCode, message: string): CallStatus => ({
  code,
  name: statusName(code),
  message,
  metadata: {},
});

export class RouteChatSocket implements TypedEvents<RouteChatEvents>, AsyncIterable<NoteFrame> {
  /** Resolves with the final status; never rejects. */
  readonly status: Promise<CallStatus>;
  /** Resolves once the socket is closed for good (after any reconnects). */
  readonly closed: Promise<CloseOutcome>;

  readonly #events = createEmitter<RouteChatEvents>();
  readonly #url: string;
  readonly #protocols: string[];
  readonly #WebSocket: WebSocketConstructor;
  readonly #reconnect: ReconnectOptions | undefined;
  #state: ConnectionState = { name: 'connecting', attempt: 1 };
  #socket: WebSocketLike | undefined;
  /** Frames accepted while not open; sent in order on open. */
  #pending: string[] = [];
  #ended = false;
  #closedByUser = false;
  /** The current connection's status frame, if one arrived. */
  #frameStatus: CallStatus | undefined;
  /** A status decided here: closed by the user, a malformed URL, a frame outside the contract. */
  #localStatus: CallStatus | undefined;
  #finalStatus: CallStatus | undefined;
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #resolveStatus!: (status: CallStatus) => void;
  #resolveClosed!: (outcome: CloseOutcome) => void;

  constructor(options: RouteChatSocketOptions) {
    const ctor =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor | undefined }).WebSocket;
    if (!ctor) {
      throw new GatewayError(
        StatusCode.FAILED_PRECONDITION,
        'no WebSocket implementation: pass options.WebSocket (e.g. the ws package) in this runtime',
      );
    }
    if (options.token !== undefined && !TOKEN_CHARS.test(options.token)) {
      throw new GatewayError(
        StatusCode.INVALID_ARGUMENT,
        'the bearer token must be non-empty and use only HTTP token characters to fit in a subprotocol',
      );
    }
    this.#WebSocket = ctor;
    this.#url = String(options.url);
    this.#protocols = [SUBPROTOCOL];
    if (options.token !== undefined) this.#protocols.push(`${BEARER_SUBPROTOCOL_PREFIX}${options.token}`);
    this.#reconnect = options.reconnect;
    this.status = new Promise((resolve) => {
      this.#resolveStatus = resolve;
    });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#open();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The subprotocol the gateway selected (`routechat.v1`), or '' before open. */
  get protocol(): string {
    return this.#socket?.protocol ?? '';
  }

  get bufferedAmount(): number {
    return this.#socket?.bufferedAmount ?? 0;
  }

  on<K extends keyof RouteChatEvents>(event: K, listener: Listener<RouteChatEvents[K]>): () => void {
    return this.#events.on(event, listener);
  }

  off<K extends keyof RouteChatEvents>(event: K, listener: Listener<RouteChatEvents[K]>): void {
    this.#events.off(event, listener);
  }

  /**
   * Validates `note` with the protocol's RouteNote schema and sends it (queued until open).
   * Throws a GatewayError: INVALID_ARGUMENT with details for a bad note, FAILED_PRECONDITION after
   * `end()` or once closed.
   */
  send(note: RouteNoteInput): void {
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
    this.#write(JSON.stringify(parsed.data));
  }

  /** Sends a text frame as-is, unvalidated: for tools that exercise the gateway's own validation. */
  sendRaw(text: string): void {
    this.#write(text);
  }

  /** Half-close: no more notes from us. The gateway still delivers replies, then the status. */
  end(): void {
    if (this.#ended || this.#state.name === 'closed') return;
    this.#write(JSON.stringify({ type: 'end' }));
    this.#ended = true;
    if (this.#state.name === 'open') this.#setState({ name: 'half-closed' });
  }

  /** Abrupt close: the call is cancelled; the status is CANCELLED unless one already arrived. */
  close(): void {
    if (this.#state.name === 'closed') return;
    this.#closedByUser = true;
    this.#localStatus ??= localStatus(StatusCode.CANCELLED, 'closed by the client');
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#finish({ status: this.#localStatus, closeCode: 1000, closeReason: '', statusFrame: false });
      return;
    }
    this.#socket?.close(1000, 'client closed');
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

  #setState(state: ConnectionState) {
    this.#state = state;
    this.#events.emit('state', state);
  }

  #write(frame: string) {
    if (this.#ended || this.#state.name === 'closed') {
      throw new GatewayError(
        StatusCode.FAILED_PRECONDITION,
        this.#ended ? 'cannot send after end()' : 'the stream is closed',
      );
    }
    if (this.#state.name === 'open' && this.#socket?.readyState === OPEN) this.#socket.send(frame);
    else this.#pending.push(frame);
  }

  #open() {
    let transportError: string | undefined;
    let socket: WebSocketLike;
    try {
      socket = new this.#WebSocket(this.#url, this.#protocols);
    } catch (error) {
      // A malformed URL: nothing to retry.
      const status = localStatus(
        StatusCode.INVALID_ARGUMENT,
        error instanceof Error ? error.message : String(error),
      );
      queueMicrotask(() => this.#finish({ status, closeCode: 1006, closeReason: '', statusFrame: false }));
      return;
    }
    this.#socket = socket;
    this.#frameStatus = undefined;
    socket.addEventListener('error', (event) => {
      const message = (event as { message?: unknown }).message;
      transportError = typeof message === 'string' ? message : 'WebSocket error';
    });
    socket.addEventListener('open', () => {
      this.#failures = 0;
      this.#setState(this.#ended ? { name: 'half-closed' } : { name: 'open', protocol: socket.protocol });
      const pending = this.#pending;
      this.#pending = [];
      for (const frame of pending) socket.send(frame);
    });
    socket.addEventListener('message', (event) => this.#onMessage(event.data));
    socket.addEventListener('close', (event) => {
      const status =
        this.#frameStatus ??
        this.#localStatus ??
        statusForClose({ closeCode: event.code, closeReason: event.reason, transportError });
      const outcome: CloseOutcome = {
        status,
        closeCode: event.code,
        closeReason: event.reason,
        statusFrame: this.#frameStatus !== undefined,
      };
      if (!this.#retry(status)) this.#finish(outcome);
    });
  }

  #onMessage(data: unknown) {
    if (this.#frameStatus || this.#localStatus) return;
    let frame: ReturnType<typeof serverFrameSchema.safeParse> | undefined;
    if (typeof data === 'string') {
      try {
        frame = serverFrameSchema.safeParse(JSON.parse(data));
      } catch {
        frame = undefined;
      }
    }
    if (!frame?.success) {
      this.#localStatus = localStatus(
        StatusCode.INTERNAL,
        'the gateway sent a frame outside the v1 contract',
      );
      this.#socket?.close(closeCodeForStatus(StatusCode.INTERNAL), 'invalid frame');
      return;
    }
    const value = frame.data;
    if (!('type' in value)) this.#events.emit('note', value);
    else if (value.type === 'error') this.#events.emit('error', value);
    else {
      const { type: _type, ...status } = value;
      // The number and the name come from the same frame; the schema checked both are in range.
      this.#frameStatus = status as CallStatus;
    }
  }

  /** Schedules a new connection when the options allow it; true when one was scheduled. */
  #retry(status: CallStatus): boolean {
    const options = this.#reconnect;
    if (!options || this.#ended || this.#closedByUser || status.code !== StatusCode.UNAVAILABLE) return false;
    if (this.#failures >= options.retries) return false;
    this.#failures += 1;
    this.#frameStatus = undefined;
    const base = (options.initialDelayMs ?? 250) * (options.multiplier ?? 2) ** (this.#failures - 1);
    // ±20 % jitter so that many clients dropped together do not come back together.
    const delayMs = Math.round(Math.min(base, options.maxDelayMs ?? 10_000) * (0.8 + Math.random() * 0.4));
    this.#setState({ name: 'reconnecting', attempt: this.#failures, delayMs, lastStatus: status });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#setState({ name: 'connecting', attempt: this.#failures + 1 });
      this.#open();
    }, delayMs);
    return true;
  }

  #finish(outcome: CloseOutcome) {
    if (this.#state.name === 'closed') return;
    this.#pending = [];
    this.#finalStatus = outcome.status;
    this.#resolveStatus(outcome.status);
    this.#events.emit('status', outcome.status);
    this.#setState({ name: 'closed', outcome });
    this.#resolveClosed(outcome);
  }
}
