/**
 * `buildGateway(config)`: the Fastify instance with every plugin registered, not yet listening.
 * Tests call `listen({ port: 0 })` on it; `main.ts` listens on the configured address.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyHelmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import type { Tracer } from '@opentelemetry/api';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { type Logger, pino } from 'pino';
import { ConfigError } from '../common/cli-options.js';
import { NOTE_FEED_PROTO_PATH, PROTO_PATH } from '../proto/index.js';
import { createAuthenticator } from './admission/auth.js';
import { trackQuietConnections } from './admission/quiet-connections.js';
import { requestIdFrom, selectSubprotocol } from './admission/upgrade.js';
import { upgradeGuard } from './admission/upgrade-guard.js';
import { type GatewayConfig, v1Limits, v2Limits } from './config.js';
import { healthPlugin } from './endpoints/health.js';
import { routechatPlugin } from './endpoints/v1.js';
import { v2Plugin } from './endpoints/v2.js';
import { loadMethodCatalog } from './methods/index.js';
import type { GatewayMetrics } from './observe/metrics.js';
import type { ConnectionObserver } from './observe/observer.js';
import { createGatewayTracing } from './observe/traces.js';
import { createSessionRegistry, type SessionRegistry } from './session/registry.js';
import { type ChannelPool, coreTarget, createChannelPool } from './upstream/index.js';
import { createUpstream, type Upstream } from './upstream/upstream.js';

export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../clients/browser/dist/', import.meta.url));

export interface GatewayDeps {
  readonly logger?: Logger;
  /** The channel pool to the cores (v1 and v2 share it); default one built from the config. */
  readonly pool?: ChannelPool;
  readonly observer?: ConnectionObserver;
  /** v2's counterpart of `observer` (connections, streams by method and status, error frames). */
  readonly v2Observer?: ConnectionObserver;
  /** Prometheus metrics; when given, they feed the observer (served apart: see run.ts, `--metrics-listen`). */
  readonly metrics?: GatewayMetrics;
  /** Spans for connections, streams and calls (common/tracing.ts starts it); absent: tracing is off. */
  readonly tracer?: Tracer;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly sessions: SessionRegistry;
  readonly upstream: Upstream;
}

/** An error caused by the peer (a protocol violation ws detected, or the connection dropped). */
const isClientSocketError = (error: Error): boolean => {
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && (code.startsWith('WS_ERR_') || 'syscall' in error);
};

/** The cores as one gRPC target; a list grpc-js cannot resolve is a configuration error. */
const coreTargetOf = (config: GatewayConfig): string => {
  const target = coreTarget(config.core);
  if (!target.ok) throw new ConfigError(`invalid --core: ${target.problem}`);
  return target.target;
};

export async function buildGateway(config: GatewayConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  const logger = deps.logger ?? pino({ name: 'gateway', level: config['log-level'] });
  const coreTargetAddress = coreTargetOf(config);
  // One set of connections to the cores for the whole gateway: v1's and v2's calls share it.
  const pool =
    deps.pool ??
    createChannelPool({
      target: coreTargetAddress,
      maxStreamsPerChannel: config['max-streams-per-channel'],
      maxMessageBytes: config['max-message-size'],
      keepaliveMs: config['core-keepalive'],
      ...(config['core-ca'] ? { caFile: config['core-ca'] } : {}),
    });
  const upstream = createUpstream(pool);
  const sessions = createSessionRegistry();
  deps.metrics?.setUpstreamStats(() => upstream.stats());
  deps.metrics?.setClientBacklog(() => sessions.backlog());
  const observer = deps.observer ?? deps.metrics?.observer;
  const v2Observer = deps.v2Observer ?? deps.metrics?.v2Observer;
  const tracing = deps.tracer ? createGatewayTracing(deps.tracer, { cores: config.core }) : undefined;

  const serverTimeouts = {
    // Slowloris: a client gets this long to send its request (and upgrade) headers; Node checks
    // every second rather than every 30 s.
    headersTimeout: config['header-timeout'],
    requestTimeout: Math.max(30_000, config['header-timeout']),
    connectionsCheckingInterval: 1000,
  };
  const secure = Boolean(config['tls-cert'] && config['tls-key']);
  const app = Fastify({
    ...(secure
      ? {
          https: {
            cert: readFileSync(config['tls-cert'] as string),
            key: readFileSync(config['tls-key'] as string),
            ...serverTimeouts,
          },
        }
      : { http: serverTimeouts }),
    loggerInstance: logger as FastifyBaseLogger,
    // Client address, scheme and host for the per-address cap and the origin check, as the proxy saw them.
    trustProxy: config['trust-proxy'],
    genReqId: (request) => requestIdFrom(request.headers),
    // Each connection logs one line when it opens and one when it closes; per-request lines would only repeat them.
    logController: new LogController({ disableRequestLogging: true }),
    // Bound how long a request (including an upgrade) may take, with or without a proxy in front.
    requestTimeout: serverTimeouts.requestTimeout,
    connectionTimeout: 60_000,
    // Requests during shutdown reach the routes: upgrades get the endpoint checks' 503 with
    // Retry-After (admission/endpoint-check.ts), /readyz reports not ready, /healthz still answers.
    return503OnClosing: false,
  });

  // Connections with no response under way are closed at shutdown (Node 20 would wait on some).
  const quiet = trackQuietConnections(app.server);
  app.addHook('onClose', async () => quiet.stop());

  await app.register(fastifyWebsocket, {
    options: {
      maxPayload: config['max-frame-size'],
      perMessageDeflate: false,
      // Without it ws would select the first offered protocol, which could be a bearer token.
      handleProtocols: (offered, request) => selectSubprotocol(offered, request.url),
    },
    // The default handler logs every socket error at error level and terminates the socket: a client
    // breaking the protocol (WS_ERR_*: too many fragments, bad opcode…) or dropping its connection
    // could flood the error log, and the close frame ws has just sent (1008, 1009…) would be cut off.
    // Those are the client's faults: ws has already closed with the right code; the connection ends the call.
    errorHandler: (error, socket, request) => {
      if (isClientSocketError(error)) return;
      request.log.error({ err: error }, 'websocket handler failed');
      socket.terminate();
    },
    preClose: (done) => {
      void sessions.drain(config['shutdown-grace']).then(() => {
        // Any socket whose close handshake has not completed by now is dropped.
        for (const client of app.websocketServer.clients) client.terminate();
        // Fastify closes the server next; Node would wait on these until the connection timeout.
        quiet.closeQuiet();
        done();
      });
    },
  });
  // Every upgrade, whatever route it would reach: a known WebSocket path and a valid handshake, or a JSON refusal.
  app.addHook('onRequest', upgradeGuard(observer ? { observer } : {}));
  const stopTimers = sessions.startTimers({
    heartbeatMs: config['heartbeat-interval'],
    idleMs: config['idle-timeout'],
    lifetimeMs: config['max-stream-lifetime'],
  });
  app.addHook('onClose', async () => stopTimers());
  // Closes the shared pool, once, after preClose has drained every v1 and v2 session.
  app.addHook('onClose', async () => upstream.close());

  await app.register(fastifyHelmet, {
    // The page loads only its own script and style and talks only to this gateway.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'", 'ws:', 'wss:'],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // HSTS only means something over TLS.
    strictTransportSecurity: secure,
  });
  await app.register(healthPlugin, { upstream, sessions });
  const authenticate = createAuthenticator(config);
  await app.register(routechatPlugin, {
    config,
    limits: v1Limits(config),
    ...(authenticate ? { authenticate } : {}),
    upstream,
    sessions,
    ...(observer ? { observer } : {}),
    ...(deps.metrics ? { onRelayLatency: deps.metrics.observeRelayLatency } : {}),
    ...(tracing ? { tracing } : {}),
  });
  // Protocol v2 (/v2): any method of the loaded services, many streams per socket.
  const methods = await loadMethodCatalog({
    protoFiles: config.proto ?? (config.reflection ? [] : [PROTO_PATH, NOTE_FEED_PROTO_PATH]),
    reflection: config.reflection,
    target: coreTargetAddress,
    ...(config['core-ca'] ? { caFile: config['core-ca'] } : {}),
    allow: config.methods,
    maxMessageBytes: config['max-message-size'],
  });
  await app.register(v2Plugin, {
    config,
    limits: v2Limits(config),
    maxServerStreamsPerIp: config['max-server-streams-per-ip'],
    ...(authenticate ? { authenticate } : {}),
    methods,
    upstream,
    sessions,
    ...(observer ? { observer } : {}),
    ...(v2Observer ? { v2Observer } : {}),
    ...(tracing ? { tracing } : {}),
  });
  const staticDir = config['static-dir'] ?? DEFAULT_STATIC_DIR;
  if (existsSync(staticDir)) await app.register(fastifyStatic, { root: staticDir });
  else app.log.warn({ staticDir }, 'browser client not built (npm run build:browser): / is not served');

  return { app, sessions, upstream };
}
