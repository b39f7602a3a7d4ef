/**
 * `GET /v1/routechat`: the upgrade checks (before any WebSocket exists), then one ws socket (through
 * socket-adapter.ts, shared with v2) and a v1 connection: one stream of RouteChat, opened at once.
 */
import type {} from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { StatusCode } from '../../protocol/common/index.js';
import { ROUTECHAT_PATH } from '../../protocol/v1/index.js';
import type { Authenticator } from '../admission/auth.js';
import { createEndpointCheck, type EndpointSettings } from '../admission/endpoint-check.js';
import {
  noteSessionFromUpgrade,
  noteSessionMetadata,
  offeredSubprotocols,
  upstreamMetadata,
} from '../admission/upgrade.js';
import { ROUTECHAT_V1_METHOD } from '../methods/routechat-v1.js';
import { withSampledExemplars } from '../observe/metrics.js';
import type { ConnectionObserver, TraceRef } from '../observe/observer.js';
import type { GatewayTracing } from '../observe/traces.js';
import type { SessionRegistry } from '../session/registry.js';
import { createV1Connection, type V1Limits } from '../session/v1-connection.js';
import { type CallOpener, refusingCalls } from '../upstream/calls.js';
import { gatewayStatus } from '../upstream/core-status.js';
import { acceptSocket, guardedCalls } from './socket-adapter.js';

export interface RoutechatPluginOptions {
  readonly config: EndpointSettings;
  readonly limits: V1Limits;
  /** Checks the caller's token before the upgrade; absent: tokens pass through to the core. */
  readonly authenticate?: Authenticator;
  readonly upstream: CallOpener;
  readonly sessions: SessionRegistry;
  readonly observer?: ConnectionObserver;
  /** Time a note spends in the gateway (receipt to write, in seconds), per relayed note. */
  readonly onRelayLatency?: (seconds: number, trace?: TraceRef) => void;
  /** Spans for each connection and its stream (observe/traces.ts); absent: tracing is off. */
  readonly tracing?: GatewayTracing;
}

/** The per-note latency hook: traced, with the connection's trace as a sampled exemplar. */
function relayLatencyHook(
  observe: RoutechatPluginOptions['onRelayLatency'],
  trace: TraceRef | undefined,
): { onRelayLatency?: (seconds: number) => void } {
  if (!observe) return {};
  return { onRelayLatency: trace ? withSampledExemplars(observe, trace) : observe };
}

export const routechatPlugin: FastifyPluginAsync<RoutechatPluginOptions> = async (app, options) => {
  const { config, limits, upstream, sessions, observer } = options;

  const checkUpgrade = createEndpointCheck(options, ROUTECHAT_PATH);

  app.get(ROUTECHAT_PATH, { websocket: true, preValidation: checkUpgrade }, (socket: WebSocket, request) => {
    const trace = options.tracing?.startConnection(request, ROUTECHAT_PATH, socket.protocol);
    // The connection's lines carry its span; each call's failure line carries the call's (guardedCalls).
    const callLog = request.log.child({ protocol: 'v1' });
    const log = trace ? callLog.child({ trace_id: trace.traceId, span_id: trace.spanId }) : callLog;
    // A bad producer session is the stream's INVALID_ARGUMENT (status frame, close 4003), as the
    // core would answer it: after the upgrade, where a browser can read it, and before any call.
    const noteSession = noteSessionFromUpgrade(request.url, request.headers);
    const session = noteSession.ok ? noteSession.value : undefined;
    const forwarded = upstreamMetadata(request.headers, config['forward-headers'], request.id);
    const metadata = {
      // Traced, the call carries its own span's context, not the client's.
      ...(trace ? trace.baseMetadata(forwarded) : forwarded),
      ...(session ? noteSessionMetadata(session) : {}),
    };
    acceptSocket(socket, request, sessions, log, ({ socket: connectionSocket, guard, finished }) => {
      const calls = noteSession.ok
        ? guardedCalls(upstream, guard, callLog)
        : refusingCalls(gatewayStatus(StatusCode.INVALID_ARGUMENT, noteSession.message));
      return createV1Connection(
        connectionSocket,
        {
          method: ROUTECHAT_V1_METHOD,
          upstream: trace ? trace.calls(calls) : calls,
          metadata,
          numbered: session !== undefined,
        },
        limits,
        {
          onRejected: (reason) => observer?.rejected?.(reason),
          onNoteForwarded: () => observer?.forwarded?.(),
          ...relayLatencyHook(options.onRelayLatency, trace?.sampled ? trace : undefined),
          onFinished: (outcome) => {
            const durationMs = finished();
            observer?.finished?.(outcome, durationMs, trace?.sampled ? trace : undefined);
            trace?.finished(outcome);
            log.info(
              {
                durationMs,
                framesIn: outcome.framesIn,
                framesOut: outcome.messagesOut,
                rejected: outcome.rejected,
                status: outcome.status.name,
                closeCode: outcome.closeCode,
                cause: outcome.cause,
              },
              'connection closed',
            );
          },
        },
      );
    });
    observer?.opened?.();
    log.info(
      {
        origin: request.headers.origin,
        subprotocol: socket.protocol || undefined,
        offered: offeredSubprotocols(request.headers).filter((p) => !p.startsWith('bearer.')),
      },
      'connection opened',
    );
  });
};
