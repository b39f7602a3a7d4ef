/**
 * The core's spans (OpenTelemetry), built only when tracing is on (common/tracing.ts):
 * - a SERVER span per call, continuing the trace from the call's `traceparent`/`tracestate`
 *   metadata (the gateway's client span), ended with the status the core sent;
 * - per note-store operation a span under the call's: the Redis append script as a CLIENT span
 *   with `db.*` attributes (the memory store: an INTERNAL span), and the live-notes publish the
 *   operation made as a PRODUCER span under it (`messaging.*`). The Redis script publishes inside
 *   itself, atomically with the append: its publish span has the script's start and end.
 * The health and reflection services are not traced: balancers' long-lived health watches would
 * each be a trace of their own.
 */

import * as grpc from '@grpc/grpc-js';
import {
  type Attributes,
  type Context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { liveNotesChannel } from './notes/live-note-wire.js';
import type { NoteStore } from './notes/note-store.js';
import type { NoteStoreSpec } from './notes/store-spec.js';

export interface CoreTracing {
  /** Add to the server's interceptors: the SERVER span of every traced call. */
  readonly serverInterceptor: grpc.ServerInterceptor;
  /** `notes` as one call uses it: each operation a span under that call's span. */
  notesForCall(metadata: grpc.Metadata, notes: NoteStore): NoteStore;
}

export interface CoreTracingOptions {
  readonly noteStore: NoteStoreSpec;
  readonly keyPrefix: string;
}

const UNTRACED_SERVICES = ['/grpc.health.v1.', '/grpc.reflection.'];

/** gRPC server spans are errors only for these (the semantic conventions' rule for servers). */
const SERVER_ERRORS: ReadonlySet<number> = new Set([
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNIMPLEMENTED,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key).filter((value): value is string => typeof value === 'string');
    return values.length === 0 ? undefined : values;
  },
};

/** How the store's operations are described: the database's attributes, or the memory store's. */
function storeDescription(options: CoreTracingOptions): {
  kind: SpanKind;
  name: string;
  attributes: Attributes;
  publish: Attributes;
} {
  const spec = options.noteStore;
  const channel = liveNotesChannel(options.keyPrefix);
  if (spec.kind === 'memory')
    return {
      kind: SpanKind.INTERNAL,
      name: 'note-store append',
      attributes: { 'routeguide.note_store': 'memory' },
      publish: { 'messaging.system': 'routeguide.in_process', 'messaging.destination.name': 'live-notes' },
    };
  const server: Attributes =
    spec.kind === 'redis'
      ? { 'server.address': spec.address.host, 'server.port': spec.address.port }
      : { 'routeguide.redis.sentinel_master': spec.masterName };
  return {
    kind: SpanKind.CLIENT,
    // The append script runs by its SHA (ioredis falls back to EVAL once when Redis lacks it).
    name: 'EVALSHA append-note',
    attributes: {
      'db.system.name': 'redis',
      'db.operation.name': 'EVALSHA',
      'db.query.summary': 'EVALSHA append-note',
      'db.namespace': String(spec.db),
      ...server,
    },
    publish: {
      'messaging.system': 'redis',
      'messaging.destination.name': channel,
      'routeguide.published_within': 'append script',
      ...server,
    },
  };
}

export function createCoreTracing(tracer: Tracer, options: CoreTracingOptions): CoreTracing {
  // The call's context, found by the metadata object grpc-js hands both to the interceptors and to the handler.
  const callContexts = new WeakMap<grpc.Metadata, Context>();
  const store = storeDescription(options);

  const serverInterceptor: grpc.ServerInterceptor = (descriptor, call) => {
    const path = descriptor.path;
    if (UNTRACED_SERVICES.some((prefix) => path.startsWith(prefix)))
      return new grpc.ServerInterceptingCall(call);
    const method = path.slice(1);
    let span: Span | undefined;
    const end = (code: grpc.status, details: string) => {
      if (!span) return;
      const name = grpc.status[code] ?? 'UNKNOWN';
      span.setAttributes({ 'rpc.status_code': name, 'rpc.grpc.status_code': code });
      if (SERVER_ERRORS.has(code)) {
        span.setAttribute('error.type', name);
        span.setStatus({ code: SpanStatusCode.ERROR, message: details });
      }
      span.end();
      span = undefined;
    };
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
            span = tracer.startSpan(
              method,
              {
                kind: SpanKind.SERVER,
                attributes: {
                  'rpc.system.name': 'grpc',
                  'rpc.method': method,
                  'rpc.service': method.slice(0, method.lastIndexOf('/')),
                },
              },
              parent,
            );
            callContexts.set(metadata, trace.setSpan(parent, span));
            nextMetadata(metadata);
          },
          // grpc-js reports onCancel after every call; after a status it finds the span ended.
          onCancel: () => end(grpc.status.CANCELLED, 'cancelled'),
        }),
      sendStatus: (status, next) => {
        end(status.code, status.details);
        next(status);
      },
    });
  };

  /** One store operation's span, and its publish span when it published. */
  async function traced<T>(
    parent: Context,
    operation: () => Promise<T>,
    published: (result: T) => boolean,
  ): Promise<T> {
    const startTime = Date.now();
    const span = tracer.startSpan(store.name, { kind: store.kind, attributes: store.attributes }, parent);
    try {
      const result = await operation();
      if (published(result)) {
        const endTime = Date.now();
        tracer
          .startSpan(
            `publish ${String(store.publish['messaging.destination.name'])}`,
            {
              kind: SpanKind.PRODUCER,
              startTime,
              attributes: { ...store.publish, 'messaging.operation.type': 'send' },
            },
            trace.setSpan(parent, span),
          )
          .end(endTime);
      }
      span.end();
      return result;
    } catch (error) {
      const err = error as Error;
      span.setAttribute('error.type', err.name || 'Error');
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
      span.end();
      throw error;
    }
  }

  return {
    serverInterceptor,
    notesForCall(metadata, notes) {
      const parent = callContexts.get(metadata);
      if (!parent) return notes;
      return {
        append: (note) =>
          traced(
            parent,
            () => notes.append(note),
            () => true,
          ),
        appendOnce: (note, id) =>
          traced(
            parent,
            () => notes.appendOnce(note, id),
            (result) => !result.duplicate,
          ),
        stats: () => notes.stats(),
        watchAvailability: (listener) => notes.watchAvailability(listener),
        close: () => notes.close(),
      };
    },
  };
}
