/**
 * A tiny OTLP/HTTP trace receiver for tests: it accepts `POST /v1/traces` in http/json and
 * http/protobuf (decoded by protobufjs with the fields of opentelemetry-proto's trace.proto that the
 * tests read, numbered as there), and keeps every span, whichever encoding it came in.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

/** opentelemetry-proto (collector/trace/v1, trace/v1, common/v1, resource/v1): the fields read here. */
const OTLP_TRACE_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  repeated Event events = 11;
  repeated Link links = 13;
  Status status = 15;
}
message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; }
message Link { bytes trace_id = 1; bytes span_id = 2; }
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
  }
}
`;
const ExportRequest = protobuf
  .parse(OTLP_TRACE_PROTO, { keepCase: false })
  .root.lookupType('otlp.ExportTraceServiceRequest');

export type AttributeValue = string | number | boolean;

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly service: string;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly events: readonly { readonly name: string; readonly attributes: Record<string, AttributeValue> }[];
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
  /** OTLP's StatusCode: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
}

export interface ReceivedRequest {
  readonly contentType: string;
  readonly spans: readonly ReceivedSpan[];
}

export interface OtlpReceiver {
  /** For OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://127.0.0.1:4318 */
  readonly endpoint: string;
  readonly requests: readonly ReceivedRequest[];
  /** Every span received so far. */
  spans(): ReceivedSpan[];
  /** Resolves once `predicate` holds for the spans received (checked on each request), or rejects after `timeoutMs`. */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

// Both encodings, loosely: JSON numbers may come as strings (int64), ids as hex (JSON) or bytes.
interface AnyValueLike {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string | { toNumber(): number };
  doubleValue?: number;
}
interface KeyValueLike {
  key: string;
  value?: AnyValueLike;
}
interface SpanLike {
  traceId: string | Uint8Array;
  spanId: string | Uint8Array;
  parentSpanId?: string | Uint8Array;
  name: string;
  kind?: number;
  attributes?: KeyValueLike[];
  events?: { name: string; attributes?: KeyValueLike[] }[];
  links?: { traceId: string | Uint8Array; spanId: string | Uint8Array }[];
  status?: { code?: number };
}
interface RequestLike {
  resourceSpans?: { resource?: { attributes?: KeyValueLike[] }; scopeSpans?: { spans?: SpanLike[] }[] }[];
}

const hex = (id: string | Uint8Array | undefined): string =>
  id === undefined ? '' : typeof id === 'string' ? id : Buffer.from(id).toString('hex');

function attributeValue(value: AnyValueLike | undefined): AttributeValue {
  if (!value) return '';
  if (value.stringValue !== undefined && value.stringValue !== null) return value.stringValue;
  if (value.boolValue !== undefined && value.boolValue !== null) return value.boolValue;
  if (value.doubleValue !== undefined && value.doubleValue !== null) return value.doubleValue;
  const int = value.intValue;
  if (int !== undefined && int !== null) return typeof int === 'object' ? int.toNumber() : Number(int);
  return '';
}

const attributesOf = (list: KeyValueLike[] | undefined): Record<string, AttributeValue> =>
  Object.fromEntries((list ?? []).map(({ key, value }) => [key, attributeValue(value)]));

function spansOf(request: RequestLike): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name'] ?? '');
    for (const scope of resourceSpans.scopeSpans ?? [])
      for (const span of scope.spans ?? [])
        out.push({
          traceId: hex(span.traceId),
          spanId: hex(span.spanId),
          parentSpanId: hex(span.parentSpanId),
          name: span.name,
          kind: span.kind ?? 0,
          service,
          attributes: attributesOf(span.attributes),
          events: (span.events ?? []).map((event) => ({
            name: event.name,
            attributes: attributesOf(event.attributes),
          })),
          links: (span.links ?? []).map((link) => ({ traceId: hex(link.traceId), spanId: hex(link.spanId) })),
          statusCode: span.status?.code ?? 0,
        });
  }
  return out;
}

async function body(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `port` 0: any free one; 4318 is OTLP/HTTP's default, where an SDK with no endpoint set would send. */
export async function startOtlpReceiver(port = 0): Promise<OtlpReceiver> {
  const requests: ReceivedRequest[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((request, response) => {
    void body(request).then((bytes) => {
      const contentType = String(request.headers['content-type'] ?? '');
      if (request.method !== 'POST' || request.url !== '/v1/traces') {
        response.writeHead(404).end();
        return;
      }
      let decoded: RequestLike;
      try {
        decoded = contentType.startsWith('application/x-protobuf')
          ? (ExportRequest.toObject(ExportRequest.decode(bytes), { longs: Number }) as RequestLike)
          : (JSON.parse(bytes.toString('utf8')) as RequestLike);
      } catch (error) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
        return;
      }
      requests.push({ contentType, spans: spansOf(decoded) });
      if (contentType.startsWith('application/x-protobuf'))
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      else response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      for (const wake of [...waiters]) wake();
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const bound = (server.address() as AddressInfo).port;
  const spans = () => requests.flatMap((request) => request.spans);
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    requests,
    spans,
    waitFor: (predicate, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!predicate(spans())) return;
          cleanup();
          resolve(spans());
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`spans not received in ${timeoutMs} ms; got: ${spans().map((s) => s.name)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
