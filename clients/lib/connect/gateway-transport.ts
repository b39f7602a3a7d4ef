/**
 * A Connect-ES v2 `Transport` over protocol v2: `createClient(Service, transport)` with code from
 * protoc-gen-es runs every method kind, bidi included, in a browser. Each RPC is one v2 stream of
 * the one GatewayClient behind the transport (its socket opened lazily, replaced by the reconnecting
 * core): this file only translates between Connect's calls and GatewayClient's calls. Interceptors,
 * the deadline signal and the abort handling are Connect's own (`runUnaryCall`, `runStreamingCall`).
 */
import {
  type BinaryReadOptions,
  type BinaryWriteOptions,
  type DescMessage,
  type DescMethod,
  type DescMethodStreaming,
  type DescMethodUnary,
  fromBinary,
  fromJson,
  type JsonReadOptions,
  type JsonValue,
  type JsonWriteOptions,
  type MessageInitShape,
  type MessageShape,
  toBinary,
  toJson,
} from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  type Interceptor,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from '@connectrpc/connect';
import { runStreamingCall, runUnaryCall } from '@connectrpc/connect/protocol';
import { V2_PATH } from '../../../protocol/v2/constants.js';
import type { Call } from '../call-record.js';
import {
  GatewayClient,
  type GatewayClientEvents,
  type GatewayClientState,
  type MethodMap,
} from '../gateway-client.js';
import type { ReconnectOptions } from '../reconnect.js';
import type { TokenSource } from '../token.js';
import type { Listener } from '../typed-events.js';
import type { WebSocketConstructor } from '../web-socket-like.js';
import { connectErrorFromStatus, rejectedFrameError, toMetadata, trailerFromStatus } from './errors.js';

export interface GatewayTransportOptions {
  /**
   * The gateway's origin, `ws(s)://host:port` or `http(s)://host:port` (a path prefix is kept, for a
   * gateway behind a proxy); the transport connects to its `/v2`.
   */
  readonly baseUrl: string;
  /** Defaults to `globalThis.WebSocket` (browsers, Node 22+); in Node 20 pass `ws`'s `WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
  /** Sent as the `bearer.<token>` subprotocol; a function is asked before every connection attempt. */
  readonly token?: TokenSource;
  /**
   * Protobuf bytes in binary frames (subprotocol `gateway.v2.binary`) instead of proto3 JSON in
   * text frames. Default false, as in connect-web.
   */
  readonly useBinaryFormat?: boolean;
  /** Run on every call, as on Connect's own transports. */
  readonly interceptors?: Interceptor[];
  readonly jsonOptions?: Partial<JsonReadOptions & JsonWriteOptions>;
  readonly binaryOptions?: Partial<BinaryReadOptions & BinaryWriteOptions>;
  /** Retry failed connection attempts for the calls waiting on them (see GatewayClientOptions). */
  readonly reconnect?: ReconnectOptions;
  /** The deadline of a call that gives no `timeoutMs` of its own. */
  readonly defaultTimeoutMs?: number;
  /** No handshake answer within this time fails the attempt. Default 10000. */
  readonly handshakeTimeoutMs?: number;
  /** Aborting closes the transport's socket for good; later calls fail. */
  readonly signal?: AbortSignal;
}

/** A Connect transport, plus its socket's lifecycle (Connect's own transports have none to show). */
export interface GatewayTransport extends Transport {
  /** The socket's state: connecting, open, reconnecting, idle (no socket needed), closed. */
  readonly state: GatewayClientState;
  on<K extends keyof GatewayClientEvents>(event: K, listener: Listener<GatewayClientEvents[K]>): () => void;
  /** Closes the socket for good: every call in flight ends with Canceled, later calls fail. */
  close(): void;
}

/** `ws(s)://` or `http(s)://` origin (and path prefix) → the v2 endpoint's URL. */
export function gatewayV2Url(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ConnectError(`baseUrl ${JSON.stringify(baseUrl)} is not a URL`, Code.InvalidArgument);
  }
  const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[url.protocol];
  if (!scheme)
    throw new ConnectError(
      `baseUrl must be ws(s):// or http(s)://, not ${url.protocol}//`,
      Code.InvalidArgument,
    );
  url.protocol = scheme;
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${V2_PATH}`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** `package.Service/Method`, as an `open` frame names it. */
const methodName = (method: DescMethod): string => `${method.parent.typeName}/${method.name}`;

/** One encoding of messages on the socket: proto3 JSON values, or protobuf bytes. */
interface MessageFormat {
  encode<I extends DescMessage>(schema: I, message: MessageShape<I>): unknown;
  decode<O extends DescMessage>(schema: O, payload: unknown): MessageShape<O>;
}

function messageFormat(options: GatewayTransportOptions): MessageFormat {
  if (options.useBinaryFormat) {
    const binary = options.binaryOptions ?? {};
    return {
      encode: (schema, message) => toBinary(schema, message, binary),
      decode: (schema, payload) => fromBinary(schema, payload as Uint8Array, binary),
    };
  }
  const json = options.jsonOptions ?? {};
  return {
    encode: (schema, message) => toJson(schema, message, json),
    decode: (schema, payload) => fromJson(schema, payload as JsonValue, json),
  };
}

/** A message that does not decode is the call's end (Internal), as on Connect's transports. */
function decodeResponse<O extends DescMessage>(
  format: MessageFormat,
  schema: O,
  payload: unknown,
): MessageShape<O> {
  try {
    return format.decode(schema, payload);
  } catch (error) {
    throw ConnectError.from(error, Code.Internal);
  }
}

/**
 * Watches `call` from its start (an error frame may come before anyone reads): a rejected frame or
 * the abort of `signal` cancels the stream.
 */
function watchCall(call: Call<unknown, unknown>, signal: AbortSignal) {
  let rejected: ConnectError | undefined;
  const stopRejected = call.on('error', (frame) => {
    rejected ??= rejectedFrameError(frame);
    call.cancel();
  });
  const onAbort = () => call.cancel();
  signal.addEventListener('abort', onAbort);
  return {
    get rejected() {
      return rejected;
    },
    dispose() {
      stopRejected();
      signal.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * The responses of `call` as Connect reads them: messages, then the trailer filled from the status.
 * A non-OK status, a rejected frame or the abort of `signal` throws a ConnectError.
 */
async function* responses<O extends DescMessage>(
  call: Call<unknown, unknown>,
  watch: ReturnType<typeof watchCall>,
  schema: O,
  format: MessageFormat,
  signal: AbortSignal,
  trailer: Headers,
): AsyncGenerator<MessageShape<O>> {
  try {
    for await (const payload of call.messages) {
      if (watch.rejected) break;
      yield decodeResponse(format, schema, payload);
    }
    const status = await call.status;
    if (signal.aborted) throw ConnectError.from(signal.reason, Code.Canceled);
    if (watch.rejected) throw watch.rejected;
    for (const [key, value] of trailerFromStatus(status)) trailer.append(key, value);
    if (status.code !== 0) throw connectErrorFromStatus(status);
  } finally {
    watch.dispose();
    // The reader stopped early (break, throw): the call is not wanted any more.
    call.cancel();
  }
}

export function createGatewayTransport(options: GatewayTransportOptions): GatewayTransport {
  const url = gatewayV2Url(options.baseUrl);
  const client = new GatewayClient<MethodMap>({
    url,
    ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.reconnect ? { reconnect: options.reconnect } : {}),
    ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.useBinaryFormat ? { messageEncoding: 'binary' as const } : {}),
  });
  const format = messageFormat(options);
  const interceptors = options.interceptors ?? [];

  /** Opens the stream; a client that cannot take calls any more is a ConnectError. */
  const open = (method: DescMethod, header: Headers, signal: AbortSignal, timeoutMs: number | undefined) => {
    if (signal.aborted) throw ConnectError.from(signal.reason, Code.Canceled);
    try {
      const metadata = toMetadata(header);
      return client.call(methodName(method), {
        ...(metadata ? { metadata } : {}),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        responseHeaders: true,
      });
    } catch (error) {
      throw ConnectError.from(error);
    }
  };

  /** What runUnaryCall and runStreamingCall take besides the request: interceptors, abort, deadline. */
  const callOptions = (signal: AbortSignal | undefined, deadline: number | undefined) => ({
    interceptors,
    ...(signal ? { signal } : {}),
    ...(deadline === undefined ? {} : { timeoutMs: deadline }),
  });
  /** The fields a unary and a streaming request share. */
  const requestFields = <M extends DescMethod>(
    method: M,
    header: HeadersInit | undefined,
    contextValues: ContextValues | undefined,
  ) => ({
    service: method.parent,
    method,
    requestMethod: 'POST',
    url: `${url}#${methodName(method)}`,
    header: new Headers(header),
    contextValues: contextValues ?? createContextValues(),
  });

  return {
    get state() {
      return client.state;
    },
    on: (event, listener) => client.on(event, listener),
    close: () => client.close(),

    async unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      message: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      const deadline = timeoutMs ?? options.defaultTimeoutMs;
      return runUnaryCall<I, O>({
        ...callOptions(signal, deadline),
        req: { stream: false, ...requestFields(method, header, contextValues), message },
        next: async (req) => {
          const call = open(req.method, req.header, req.signal, deadline);
          call.send(format.encode(req.method.input, req.message));
          call.end();
          const trailer = new Headers();
          let reply: MessageShape<O> | undefined;
          for await (const response of responses(
            call,
            watchCall(call, req.signal),
            req.method.output,
            format,
            req.signal,
            trailer,
          )) {
            if (reply !== undefined)
              throw new ConnectError(
                `${methodName(req.method)} sent more than one response`,
                Code.Unimplemented,
              );
            reply = response;
          }
          if (reply === undefined)
            throw new ConnectError(`${methodName(req.method)} sent no response`, Code.Unimplemented);
          return {
            stream: false,
            service: req.service,
            method: req.method,
            header: new Headers(await call.headers),
            message: reply,
            trailer,
          };
        },
      });
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      const deadline = timeoutMs ?? options.defaultTimeoutMs;
      return runStreamingCall<I, O>({
        ...callOptions(signal, deadline),
        req: { stream: true, ...requestFields(method, header, contextValues), message: input },
        next: async (req) => {
          const call = open(req.method, req.header, req.signal, deadline);
          void sendAll(call, req.message, (message) => format.encode(req.method.input, message));
          const trailer = new Headers();
          const watch = watchCall(call, req.signal);
          // As Connect's own transports: the response (its headers) first. They come before the first
          // message, or the call ended without them (then iterating gives its error or end).
          const header = new Headers(await call.headers);
          return {
            stream: true,
            service: req.service,
            method: req.method,
            header,
            message: responses(call, watch, req.method.output, format, req.signal, trailer),
            trailer,
          };
        },
      });
    },
  };
}

/**
 * Writes the request messages as the application produces them, then half-closes. GatewayClient
 * holds them back until the stream has credit. An input that throws cancels the call.
 */
async function sendAll<T>(
  call: Call<unknown, unknown>,
  input: AsyncIterable<T>,
  encode: (message: T) => unknown,
): Promise<void> {
  try {
    for await (const message of input) call.send(encode(message));
    call.end();
  } catch {
    call.cancel();
  }
}
