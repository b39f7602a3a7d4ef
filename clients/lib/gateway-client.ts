/**
 * The v2 client: many calls of any method over one WebSocket (`GET /v2`). Each call is a stream;
 * `unary`, `serverStream`, `clientStream` and `bidi` are views of one `Call`. Typed by a method map
 * (`RouteGuideMethods` for our service) in proto3 JSON names. The socket is opened on first use;
 * everything that depends on one socket lives in `attach()`, so a reconnecting wrapper can
 * replace the socket without touching the call logic.
 */
import type { Feature, Point, Rectangle, RouteNote, RouteSummary } from '../../proto/index.js';
import { type CallStatus, GatewayError, StatusCode, statusName } from '../../protocol/status.js';
import { INITIAL_STREAM_CREDIT, type ServerFrameV2, V2_SUBPROTOCOL } from '../../protocol/v2/index.js';
import type { WebSocketConstructor, WebSocketLike } from './web-socket-like.js';

type Camel<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<Camel<Tail>>}`
  : S;
/** A generated (keepCase) proto type in its proto3 JSON names: `point_count` → `pointCount`. */
export type Proto3Json<T> = T extends readonly (infer U)[]
  ? Proto3Json<U>[]
  : T extends object
    ? { [K in keyof T as K extends string ? Camel<K> : K]: Proto3Json<T[K]> }
    : T;

export interface MethodTypes {
  readonly request: unknown;
  readonly response: unknown;
}
export type MethodMap = Record<string, MethodTypes>;

/** RouteGuide in proto3 JSON: requests as sent (fields optional), responses with every field. */
export interface RouteGuideMethods extends MethodMap {
  'routeguide.RouteGuide/GetFeature': { request: Proto3Json<Point>; response: Proto3Json<Required<Feature>> };
  'routeguide.RouteGuide/ListFeatures': {
    request: Proto3Json<Rectangle>;
    response: Proto3Json<Required<Feature>>;
  };
  'routeguide.RouteGuide/RecordRoute': {
    request: Proto3Json<Point>;
    response: Proto3Json<Required<RouteSummary>>;
  };
  'routeguide.RouteGuide/RouteChat': {
    request: Proto3Json<RouteNote>;
    response: Proto3Json<Required<RouteNote>>;
  };
}

export interface CallOptions {
  readonly metadata?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** One stream. `messages` yields the responses; `status` settles with the final status (never rejects). */
export interface Call<Req, Res> {
  readonly id: string;
  send(message: Req): void;
  end(): void;
  cancel(): void;
  readonly messages: AsyncIterable<Res>;
  readonly status: Promise<CallStatus>;
}

export interface GatewayClientOptions {
  readonly WebSocket: WebSocketConstructor;
  /** Sent as the `bearer.<token>` subprotocol. */
  readonly token?: string;
}

interface StreamState {
  credit: number;
  readonly outbox: unknown[];
  readonly queue: unknown[];
  wake?: () => void;
  done: boolean;
  endQueued: boolean;
  resolveStatus(status: CallStatus): void;
}

export class GatewayClient<M extends MethodMap = RouteGuideMethods> {
  private socket: WebSocketLike | undefined;
  private opened: Promise<void> | undefined;
  private readonly streams = new Map<string, StreamState>();
  private nextId = 0;

  constructor(
    private readonly url: string,
    private readonly options: GatewayClientOptions,
  ) {}

  /** Opens a stream of any kind. */
  call<K extends keyof M & string>(
    method: K,
    options: CallOptions = {},
  ): Call<M[K]['request'], M[K]['response']> {
    this.nextId += 1;
    const id = `c${this.nextId}`;
    let resolveStatus!: (s: CallStatus) => void;
    const status = new Promise<CallStatus>((resolve) => {
      resolveStatus = resolve;
    });
    const state: StreamState = {
      credit: INITIAL_STREAM_CREDIT,
      outbox: [],
      queue: [],
      done: false,
      endQueued: false,
      resolveStatus,
    };
    this.streams.set(id, state);
    void status.then(() => {
      state.done = true;
      state.wake?.();
    });
    this.write({ type: 'open', id, method, ...options });
    const flush = () => {
      while (state.credit > 0 && state.outbox.length > 0) {
        state.credit -= 1;
        this.write({ type: 'message', id, message: state.outbox.shift() });
      }
      if (state.outbox.length === 0 && state.endQueued) {
        state.endQueued = false;
        this.write({ type: 'end', id });
      }
    };
    (state as StreamState & { flush?: () => void }).flush = flush;
    const messages: AsyncIterable<M[K]['response']> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          for (;;) {
            if (state.queue.length > 0)
              return { value: state.queue.shift() as M[K]['response'], done: false };
            if (state.done) return { value: undefined, done: true };
            await new Promise<void>((resolve) => {
              state.wake = resolve;
            });
          }
        },
      }),
    };
    return {
      id,
      send: (message) => {
        state.outbox.push(message);
        flush();
      },
      end: () => {
        state.endQueued = true;
        flush();
      },
      cancel: () => this.write({ type: 'cancel', id }),
      messages,
      status,
    };
  }

  /** One request, one response; rejects with a GatewayError on a non-OK status. */
  async unary<K extends keyof M & string>(
    method: K,
    request: M[K]['request'],
    options?: CallOptions,
  ): Promise<M[K]['response']> {
    const call = this.call(method, options);
    call.send(request);
    const responses: M[K]['response'][] = [];
    for await (const message of call.messages) responses.push(message);
    await this.check(call.status);
    return responses[0] as M[K]['response'];
  }

  /** One request, a stream of responses. */
  async *serverStream<K extends keyof M & string>(
    method: K,
    request: M[K]['request'],
    options?: CallOptions,
  ): AsyncGenerator<M[K]['response']> {
    const call = this.call(method, options);
    call.send(request);
    for await (const message of call.messages) yield message;
    await this.check(call.status);
  }

  /** A stream of requests, one response. */
  async clientStream<K extends keyof M & string>(
    method: K,
    requests: Iterable<M[K]['request']> | AsyncIterable<M[K]['request']>,
    options?: CallOptions,
  ): Promise<M[K]['response']> {
    const call = this.call(method, options);
    for await (const request of requests) call.send(request);
    call.end();
    const responses: M[K]['response'][] = [];
    for await (const message of call.messages) responses.push(message);
    await this.check(call.status);
    return responses[0] as M[K]['response'];
  }

  /** Both directions at once: the `Call` itself. */
  bidi<K extends keyof M & string>(
    method: K,
    options?: CallOptions,
  ): Call<M[K]['request'], M[K]['response']> {
    return this.call(method, options);
  }

  close(): void {
    this.socket?.close(1000);
  }

  private async check(status: Promise<CallStatus>): Promise<void> {
    const final = await status;
    if (final.code !== StatusCode.OK) throw new GatewayError(final.code, final.message);
  }

  private write(frame: object): void {
    const text = JSON.stringify(frame);
    this.opened ??= this.attach();
    if (this.socket && this.socket.readyState === 1) this.socket.send(text);
    else void this.opened.then(() => this.socket?.send(text));
  }

  /** Everything bound to one socket: a reconnecting wrapper replaces this. */
  private attach(): Promise<void> {
    const protocols = [V2_SUBPROTOCOL, ...(this.options.token ? [`bearer.${this.options.token}`] : [])];
    const socket = new this.options.WebSocket(this.url, protocols);
    this.socket = socket;
    socket.addEventListener('message', (event) =>
      this.onFrame(JSON.parse(String(event.data)) as ServerFrameV2),
    );
    socket.addEventListener('error', () => {});
    socket.addEventListener('close', (event) => {
      // A socket gone ends every stream still open: no status will come for them.
      for (const [id, state] of this.streams) {
        this.streams.delete(id);
        state.resolveStatus({
          code: StatusCode.UNAVAILABLE,
          name: statusName(StatusCode.UNAVAILABLE),
          message: `connection closed (${event.code})`,
          metadata: {},
        });
      }
      this.socket = undefined;
      this.opened = undefined;
    });
    return new Promise((resolve) => socket.addEventListener('open', () => resolve()));
  }

  private onFrame(frame: ServerFrameV2): void {
    if (!('id' in frame) || frame.id === undefined) return;
    const state = this.streams.get(frame.id) as (StreamState & { flush?: () => void }) | undefined;
    if (!state) return;
    if (frame.type === 'message') {
      state.queue.push(frame.message);
      state.wake?.();
    } else if (frame.type === 'credit') {
      state.credit += frame.messages;
      state.flush?.();
    } else if (frame.type === 'status') {
      this.streams.delete(frame.id);
      state.resolveStatus({
        code: frame.code as StatusCode,
        name: frame.name,
        message: frame.message,
        metadata: frame.metadata,
      });
    }
  }
}
