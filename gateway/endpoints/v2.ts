/**
 * `GET /v2`: protocol v2, many calls of any method over one WebSocket. The same upgrade checks,
 * caps, auth and origin rules as v1 (the same pure rules from upgrade.ts, the same session
 * registry for the caps, heartbeat and drain); then the same socket adapter as v1 (socket-adapter.ts:
 * write coalescing, event wiring, fault guard) from ws to the v2 connection.
 */
import type {} from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { V2_BINARY_SUBPROTOCOL, V2_PATH } from '../../protocol/v2/index.js';
import type { Authenticator } from '../admission/auth.js';
import { createEndpointCheck, type EndpointSettings } from '../admission/endpoint-check.js';
import { upstreamMetadata } from '../admission/upgrade.js';
import type { MethodCatalog } from '../methods/method-registry.js';
import type { ConnectionObserver } from '../observe/observer.js';
import type { GatewayTracing } from '../observe/traces.js';
import { createAddressQuotas } from '../session/address-quotas.js';
import type { SessionRegistry } from '../session/registry.js';
import { createV2Connection, type V2Limits } from '../session/v2-connection.js';
import type { CallOpener } from '../upstream/calls.js';
import { acceptSocket, guardedCalls } from './socket-adapter.js';

export interface V2PluginOptions {
  readonly config: EndpointSettings;
  readonly limits: V2Limits;
  /** Server-streaming calls one client address may hold open over all its sockets. */
  readonly maxServerStreamsPerIp: number;
  readonly authenticate?: Authenticator;
  readonly methods: MethodCatalog;
  readonly upstream: CallOpener;
  readonly sessions: SessionRegistry;
  /** Upgrade refusals (shared with v1's). */
  readonly observer?: ConnectionObserver;
  readonly v2Observer?: ConnectionObserver;
  /** Spans for each connection and each stream (observe/traces.ts); absent: tracing is off. */
  readonly tracing?: GatewayTracing;
}

export const v2Plugin: FastifyPluginAsync<V2PluginOptions> = async (app, options) => {
  const { config, sessions, v2Observer } = options;
  const { limits } = options;
  const addressShares = createAddressQuotas(options.maxServerStreamsPerIp);

  app.get(
    V2_PATH,
    { websocket: true, preValidation: createEndpointCheck(options, V2_PATH) },
    (socket: WebSocket, request) => {
      const trace = options.tracing?.startConnection(request, V2_PATH, socket.protocol);
      // The connection's lines carry its span; each call's failure line carries the call's (guardedCalls).
      const callLog = request.log.child({ protocol: 'v2' });
      const log = trace ? callLog.child({ trace_id: trace.traceId, span_id: trace.spanId }) : callLog;
      const forwarded = upstreamMetadata(request.headers, config['forward-headers'], request.id);
      // Traced, each call carries its own span's context: the open's traceparent is its parent, else
      // the connection (the upgrade's traceparent is the connection's parent).
      const baseMetadata = trace ? trace.baseMetadata(forwarded) : forwarded;
      // A bug costs one connection (each stream INTERNAL, close 1011), never the process.
      acceptSocket(socket, request, sessions, log, ({ socket: connectionSocket, guard, finished }) => {
        const calls = guardedCalls(options.upstream, guard, callLog);
        return createV2Connection(
          connectionSocket,
          {
            methods: options.methods,
            upstream: trace ? trace.calls(calls) : calls,
            baseMetadata,
            addressServerStreams: addressShares.forAddress(request.ip),
            messageEncoding: socket.protocol === V2_BINARY_SUBPROTOCOL ? 'binary' : 'json',
          },
          limits,
          {
            onRejected: (reason) => v2Observer?.rejected?.(reason),
            onStreamOpened: (method) => v2Observer?.streamOpened?.(method),
            onStreamFinished: (method, status, opened) =>
              v2Observer?.streamFinished?.(method, status, opened),
            onFinished: (outcome) => {
              const durationMs = finished();
              v2Observer?.finished?.(outcome, durationMs, trace?.sampled ? trace : undefined);
              trace?.finished(outcome);
              log.info({ durationMs, ...outcome }, 'connection closed');
            },
          },
        );
      });
      v2Observer?.opened?.();
      log.info(
        { origin: request.headers.origin, subprotocol: socket.protocol || undefined },
        'connection opened',
      );
    },
  );
};
