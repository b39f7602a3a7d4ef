/**
 * The gateway's spans (OpenTelemetry), built only when tracing is on (common/tracing.ts): the
 * endpoints ask for a `ConnectionTrace` once per socket, and when there is none nothing below
 * them knows tracing exists. Per message nothing is added unless tracing is on: the call port and
 * its handlers are wrapped when the call opens.
 *
 * The tree (docs/operations.md shows it):
 * - the connection: a SERVER span from the upgrade to the close, whose parent is the upgrade's
 *   `traceparent`/`tracestate` (else it starts the trace); outcome, close code and counts;
 * - each stream (v1: the socket's one RouteChat; v2: each `open`): a span under the connection, or
 *   under the client's span when the v2 `open.metadata` carries a `traceparent`; message counts and
 *   bytes, and sampled `message` events (the 1st, 2nd, 4th, 8th… message each way);
 * - the gRPC call to the core: a CLIENT span under the stream's, whose context goes to the core as
 *   the call's `traceparent`.
 */
import {
  type Attributes,
  type Context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type CallStatus, StatusCode } from '../../protocol/common/index.js';
import type { MethodInfo } from '../methods/method-registry.js';
import type { ConnectionOutcome } from '../session/connection.js';
import type { CallHandlers, CallOpener, CallPort } from '../upstream/calls.js';

/** The W3C trace-context keys, as headers and as gRPC metadata. */
export const TRACE_CONTEXT_KEYS: readonly string[] = ['traceparent', 'tracestate'];

/** What the connection span says about the upgrade request (Fastify's request satisfies it). */
export interface UpgradeRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly url: string;
  readonly ip: string;
  readonly protocol: 'http' | 'https';
  readonly host: string;
}

export interface ConnectionTrace {
  /** For log lines (`trace_id`, `span_id`) and exemplars. */
  readonly traceId: string;
  readonly spanId: string;
  /** The sampler kept this trace: only then is it worth an exemplar. */
  readonly sampled: boolean;
  /** `opener` with a stream span and a client span around each call, the call's traceparent set. */
  calls(opener: CallOpener): CallOpener;
  /** The call metadata of this connection without the client's trace context (each call gets its own). */
  baseMetadata(metadata: Readonly<Record<string, string>>): Record<string, string>;
  finished(outcome: ConnectionOutcome): void;
}

export interface GatewayTracing {
  startConnection(request: UpgradeRequest, route: string, subprotocol: string): ConnectionTrace;
}

export interface GatewayTracingOptions {
  /** The cores (`host:port` each), for the client spans' server.address and server.port. */
  readonly cores: readonly { readonly host: string; readonly port: number }[];
}

const headerGetter: TextMapGetter<UpgradeRequest['headers']> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** Messages whose number is a power of two get an event: log2(n) events for n messages, whatever n. */
const isSampledMessage = (n: number): boolean => (n & (n - 1)) === 0;

/** The `id`th message one way, as an event on the stream span when it is sampled. */
function recordMessage(span: Span, type: 'SENT' | 'RECEIVED', id: number, bytes: number): void {
  if (isSampledMessage(id))
    span.addEvent('message', {
      'rpc.message.type': type,
      'rpc.message.id': id,
      'rpc.message.uncompressed_size': bytes,
    });
}

const methodParts = (method: MethodInfo): { service: string; name: string } => {
  const slash = method.name.lastIndexOf('/');
  return { service: method.name.slice(0, slash), name: method.name.slice(slash + 1) };
};

/** A non-OK status is an error on a client span; the stream span says what the client got. */
function endWithStatus(span: Span, status: CallStatus): void {
  span.setAttribute('rpc.status_code', status.name);
  span.setAttribute('rpc.grpc.status_code', status.code);
  if (status.code !== StatusCode.OK) {
    span.setAttribute('error.type', status.name);
    span.setStatus({ code: SpanStatusCode.ERROR, message: status.message });
  }
  span.end();
}

export function createGatewayTracing(tracer: Tracer, options: GatewayTracingOptions): GatewayTracing {
  const core = options.cores.length === 1 ? options.cores[0] : undefined;
  const serverAttributes: Attributes = core
    ? { 'server.address': core.host, 'server.port': core.port }
    : { 'server.address': options.cores.map((c) => `${c.host}:${c.port}`).join(',') };

  /** Spans of one call: its stream's (child of `parent`) and the client call's (child of the stream's). */
  function tracedCall(
    opener: CallOpener,
    connection: Span,
    connectionContext: Context,
    method: MethodInfo,
    metadata: Readonly<Record<string, string>>,
    callOptions: Parameters<CallOpener['open']>[2],
    handlers: CallHandlers,
  ): CallPort {
    const fromClient = metadata.traceparent !== undefined;
    // Only a v2 open's own metadata carries a traceparent here (baseMetadata strips the upgrade's).
    const parent = fromClient ? propagation.extract(ROOT_CONTEXT, metadata) : connectionContext;
    const { service, name } = methodParts(method);
    const rpc: Attributes = {
      'rpc.system.name': 'grpc',
      'rpc.method': method.name,
      'rpc.service': service,
    };
    const stream = tracer.startSpan(
      method.name,
      {
        kind: fromClient ? SpanKind.SERVER : SpanKind.INTERNAL,
        attributes: { ...rpc, 'routeguide.stream.kind': streamKind(method) },
        ...(fromClient ? { links: [{ context: connection.spanContext() }] } : {}),
      },
      parent,
    );
    const client = tracer.startSpan(
      method.name,
      { kind: SpanKind.CLIENT, attributes: { ...rpc, 'rpc.grpc.method': name, ...serverAttributes } },
      trace.setSpan(parent, stream),
    );
    const outgoing: Record<string, string> = {};
    for (const [key, value] of Object.entries(metadata))
      if (!TRACE_CONTEXT_KEYS.includes(key)) outgoing[key] = value;
    propagation.inject(trace.setSpan(ROOT_CONTEXT, client), outgoing);

    let messagesIn = 0;
    let messagesOut = 0;
    let bytesIn = 0;
    let bytesOut = 0;
    let cancelled = false;
    const port = opener.open(method, outgoing, callOptions, {
      onMessage(bytes) {
        messagesOut += 1;
        bytesOut += bytes.byteLength;
        recordMessage(stream, 'RECEIVED', messagesOut, bytes.byteLength);
        handlers.onMessage(bytes);
      },
      onReadEnd: () => handlers.onReadEnd(),
      onStatus(status, hiddenDetail) {
        endWithStatus(client, status);
        stream.setAttributes({
          'routeguide.stream.messages_in': messagesIn,
          'routeguide.stream.messages_out': messagesOut,
          'routeguide.stream.bytes_in': bytesIn,
          'routeguide.stream.bytes_out': bytesOut,
          'routeguide.stream.cancelled_by_gateway': cancelled,
        });
        endWithStatus(stream, status);
        handlers.onStatus(status, hiddenDetail);
      },
      onDrain: () => handlers.onDrain(),
      ...(handlers.onHeaders ? { onHeaders: (headers) => handlers.onHeaders?.(headers) } : {}),
    });
    return {
      write(message) {
        messagesIn += 1;
        bytesIn += message.byteLength;
        recordMessage(stream, 'SENT', messagesIn, message.byteLength);
        return port.write(message);
      },
      end: () => port.end(),
      cancel() {
        cancelled = true;
        port.cancel();
      },
      pause: () => port.pause(),
      resume: () => port.resume(),
    };
  }

  return {
    startConnection(request, route, subprotocol) {
      const parent = propagation.extract(ROOT_CONTEXT, request.headers, headerGetter);
      const userAgent = request.headers['user-agent'];
      const [host, port] = splitHost(request.host);
      const span = tracer.startSpan(
        `WebSocket ${route}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': 'GET',
            'http.route': route,
            'http.response.status_code': 101,
            'url.path': request.url.split('?', 1)[0],
            'url.scheme': request.protocol,
            'network.protocol.name': 'websocket',
            'client.address': request.ip,
            ...(host ? { 'server.address': host } : {}),
            ...(port ? { 'server.port': port } : {}),
            ...(typeof userAgent === 'string' ? { 'user_agent.original': userAgent } : {}),
            ...(subprotocol ? { 'routeguide.websocket.subprotocol': subprotocol } : {}),
          },
        },
        parent,
      );
      const connectionContext = trace.setSpan(parent, span);
      const { traceId, spanId, traceFlags } = span.spanContext();
      return {
        traceId,
        spanId,
        sampled: (traceFlags & TraceFlags.SAMPLED) !== 0,
        calls: (opener) => ({
          open: (method, metadata, callOptions, handlers) =>
            tracedCall(opener, span, connectionContext, method, metadata, callOptions, handlers),
        }),
        baseMetadata(metadata) {
          const out: Record<string, string> = {};
          for (const [key, value] of Object.entries(metadata))
            if (!TRACE_CONTEXT_KEYS.includes(key)) out[key] = value;
          return out;
        },
        finished(outcome) {
          span.setAttributes({
            'routeguide.websocket.close_code': outcome.closeCode,
            'routeguide.connection.cause': outcome.cause,
            'routeguide.connection.frames_in': outcome.framesIn,
            'routeguide.connection.frames_out': outcome.framesOut,
            'routeguide.connection.messages_out': outcome.messagesOut,
            'routeguide.connection.rejected': outcome.rejected,
            'routeguide.connection.streams': outcome.streams,
          });
          if (outcome.cause === 'fault') {
            span.setAttribute('error.type', 'gateway_fault');
            span.setStatus({ code: SpanStatusCode.ERROR, message: 'gateway fault' });
          }
          span.end();
        },
      };
    },
  };
}

const streamKind = (method: MethodInfo): string =>
  method.requestStream
    ? method.responseStream
      ? 'bidi_streaming'
      : 'client_streaming'
    : method.responseStream
      ? 'server_streaming'
      : 'unary';

/** `host[:port]` from a Host header (IPv6 in brackets). */
function splitHost(hostHeader: string): [string | undefined, number | undefined] {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader);
  if (!match) return [undefined, undefined];
  return [match[1], match[2] ? Number(match[2]) : undefined];
}
