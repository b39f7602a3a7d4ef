/**
 * `GET /v2`: protocol v2, many calls of any method over one WebSocket. The same upgrade checks,
 * caps, auth and origin rules as v1 (the same pure rules from upgrade.ts, the same session
 * registry for the caps, heartbeat and drain); then a thin adapter from ws to the v2 connection.
 */
import type {} from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { DEFAULT_MAX_SOCKET_REJECTIONS, DEFAULT_MAX_STREAM_REJECTIONS } from '../protocol/v2/constants.js';
import { DEFAULT_V2_FRAME_LIMITS, INITIAL_STREAM_CREDIT, V2_PATH } from '../protocol/v2/index.js';
import type { Authenticator } from './auth.js';
import type { GatewayConfig } from './config.js';
import { createEndpointCheck } from './endpoint-check.js';
import type { MethodCatalog } from './methods/method-registry.js';
import type { ConnectionObserver } from './routechat-plugin.js';
import { type Connection, type ConnectionLimits, createConnection } from './session/connection.js';
import type { CallOpener } from './session/ports.js';
import type { Session, SessionRegistry } from './sessions.js';
import { upstreamMetadata } from './upgrade.js';

export interface V2PluginOptions {
  readonly config: GatewayConfig;
  readonly authenticate?: Authenticator;
  readonly methods: MethodCatalog;
  readonly upstream: CallOpener;
  readonly sessions: SessionRegistry;
  readonly observer?: ConnectionObserver;
}

export function v2Limits(config: GatewayConfig): ConnectionLimits {
  return {
    frame: {
      ...DEFAULT_V2_FRAME_LIMITS,
      maxStringLength: Math.min(DEFAULT_V2_FRAME_LIMITS.maxStringLength, config['max-frame-size']),
    },
    maxStreams: config['max-streams-per-socket'],
    initialCredit: INITIAL_STREAM_CREDIT,
    maxStreamRejections: Math.min(DEFAULT_MAX_STREAM_REJECTIONS, config['max-rejected-frames']),
    maxSocketRejections: Math.min(DEFAULT_MAX_SOCKET_REJECTIONS, config['max-rejected-frames']),
    rateLimit: config['rate-limit'],
    rateBurst: config['rate-burst'],
    floodGraceMs: config['flood-grace'],
    socketHighWaterMark: config['socket-high-water-mark'],
  };
}

export const v2Plugin: FastifyPluginAsync<V2PluginOptions> = async (app, options) => {
  const { config, sessions, observer } = options;
  const limits = v2Limits(config);

  app.get(
    V2_PATH,
    { websocket: true, preValidation: createEndpointCheck(options, V2_PATH) },
    (socket: WebSocket, request) => {
      const log = request.log.child({ protocol: 'v2' });
      const openedAt = performance.now();
      const baseMetadata = upstreamMetadata(request.headers, config['forward-headers'], request.id);
      const rawSocket = request.raw.socket as typeof request.raw.socket | null;
      let connection: Connection | undefined;
      // A bug must cost one connection (each stream INTERNAL, close 1011), never the process.
      const guarded =
        <A extends unknown[]>(handler: (...args: A) => void) =>
        (...args: A) => {
          try {
            handler(...args);
          } catch (error) {
            log.error({ err: error }, 'v2 connection fault');
            connection?.fail();
          }
        };
      const guardedUpstream: CallOpener = {
        open: (method, metadata, callOptions, handlers) =>
          options.upstream.open(method, metadata, callOptions, {
            onMessage: guarded(handlers.onMessage),
            onReadEnd: guarded(handlers.onReadEnd),
            onStatus: guarded((status, hiddenDetail) => {
              // The client gets a plain message; what the transport said stays here, under this reqId.
              if (hiddenDetail !== undefined)
                log.warn(
                  { method: method.name, status: status.name, detail: hiddenDetail },
                  'core call failed',
                );
              handlers.onStatus(status);
            }),
            onDrain: guarded(handlers.onDrain),
          }),
      };
      const onSocketDrain = guarded(() => connection?.onSocketDrain());
      connection = createConnection(
        {
          get bufferedAmount() {
            return socket.bufferedAmount;
          },
          send: (text) => socket.send(text),
          close: (code, reason) => socket.close(code, reason),
          pause: () => socket.pause(),
          resume: () => socket.resume(),
        },
        { methods: options.methods, upstream: guardedUpstream, baseMetadata },
        limits,
        {
          onRejected: (reason) => observer?.rejected?.(reason),
          onFinished: (outcome) => {
            sessions.delete(session);
            rawSocket?.off('drain', onSocketDrain);
            const durationMs = Math.round(performance.now() - openedAt);
            log.info({ durationMs, ...outcome }, 'connection closed');
          },
        },
      );
      const live = connection;
      const session: Session = {
        relay: {
          get lastActivity() {
            return live.lastActivity;
          },
          get readingPaused() {
            return live.readingPaused;
          },
          beginShutdown: () => live.beginShutdown(),
          forceShutdown: () => live.forceShutdown(),
          closeForTimeout: (message) => live.closeForTimeout(message),
        },
        ip: request.ip,
        openedAt,
        alive: true,
        ping: () => socket.ping(),
        terminate: () => socket.terminate(),
      };
      rawSocket?.on('drain', onSocketDrain);
      socket.on(
        'message',
        guarded((data: Buffer, isBinary: boolean) => {
          if (isBinary) connection?.onClientBinary();
          else connection?.onClientText(data.toString());
        }),
      );
      socket.on('pong', () => {
        session.alive = true;
      });
      socket.on('error', (error) => {
        log.debug({ err: error }, 'socket error');
        connection?.onClientGone();
      });
      socket.on('close', () => connection?.onClientGone());
      sessions.add(session);
      observer?.opened?.();
      log.info(
        { origin: request.headers.origin, subprotocol: socket.protocol || undefined },
        'connection opened',
      );
    },
  );
};
