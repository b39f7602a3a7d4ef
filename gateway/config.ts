/** The gateway's settings: flags, environment, defaults, validated once. */
import { z } from 'zod';
import {
  byteSize,
  csv,
  duration,
  grpcMessageSize,
  hostPort,
  hostPortOrOff,
  logLevel,
  nonNegativeInt,
  type OptionSpecs,
  positiveInt,
  withDefaults,
} from '../common/cli-options.js';
import { DEFAULT_FRAME_LIMITS, http2RequestHeaderProblem } from '../protocol/common/index.js';
import {
  DEFAULT_MAX_SERVER_STREAMS_PER_IP,
  DEFAULT_MAX_SERVER_STREAMS_PER_SOCKET,
  DEFAULT_MAX_SOCKET_REJECTIONS,
  DEFAULT_MAX_STREAM_REJECTIONS,
  DEFAULT_MAX_STREAMS_PER_SOCKET,
  DEFAULT_V2_FRAME_LIMITS,
  INITIAL_STREAM_CREDIT,
} from '../protocol/v2/index.js';
import { allowListEntryProblem } from './admission/origin.js';
import type { V1Limits } from './session/v1-connection.js';
import type { V2Limits } from './session/v2-connection.js';
import { coreTarget } from './upstream/core-target.js';

export const gatewayOptionSpecs = {
  listen: {
    env: 'GATEWAY_LISTEN',
    description: 'Address to serve HTTP/WebSocket on; port 0 picks a free port',
    default: '127.0.0.1:8080',
  },
  core: {
    env: 'GATEWAY_CORE',
    description:
      'RouteGuide gRPC server(s) to relay to: HOST:PORT, a DNS name resolving to several, or a comma-separated list of IP:PORT; streams are spread over the serving ones',
    default: '127.0.0.1:50051',
  },
  'allowed-origins': {
    env: 'GATEWAY_ALLOWED_ORIGINS',
    description:
      'Origins allowed to open a WebSocket (scheme://host[:port], comma-separated; "*" allows any)',
    defaultNote: 'same origin + localhost',
  },
  'forward-headers': {
    env: 'GATEWAY_FORWARD_HEADERS',
    description: 'Upgrade request headers passed to the core as gRPC metadata',
    default: 'authorization,x-request-id,traceparent',
  },
  'max-frame-size': {
    env: 'GATEWAY_MAX_FRAME_SIZE',
    description: 'Largest WebSocket message accepted (bigger: close 1009)',
    default: '64KiB',
  },
  'max-message-size': {
    env: 'GATEWAY_MAX_MESSAGE_SIZE',
    description: 'Largest gRPC message sent to or received from the core',
    default: '1MiB',
  },
  'max-rejected-frames': {
    env: 'GATEWAY_MAX_REJECTED_FRAMES',
    description: 'Rejected frames tolerated per connection before close 1008',
    default: '20',
  },
  'socket-high-water-mark': {
    env: 'GATEWAY_SOCKET_HIGH_WATER_MARK',
    description:
      'Bytes queued to a client before its calls are paused (v2: and the socket is not read until it drains)',
    default: '1MiB',
  },
  'slow-reader-timeout': {
    env: 'GATEWAY_SLOW_READER_TIMEOUT',
    description:
      'Protocol v2: a client that leaves more than --socket-high-water-mark unread this long is closed with 1008 (0 disables)',
    default: '30s',
  },
  'heartbeat-interval': {
    env: 'GATEWAY_HEARTBEAT_INTERVAL',
    description: 'Ping period; a peer that misses a pong is dropped (0 disables)',
    default: '30s',
  },
  'core-keepalive': {
    env: 'GATEWAY_CORE_KEEPALIVE',
    description: 'HTTP/2 keepalive ping period towards the core',
    default: '30s',
  },
  'max-streams-per-channel': {
    env: 'GATEWAY_MAX_STREAMS_PER_CHANNEL',
    description: 'RouteChat calls per HTTP/2 connection to the core before another is opened',
    default: '100',
  },
  'core-ca': { env: 'GATEWAY_CORE_CA', description: 'PEM CA file: reach the core over TLS' },
  'max-connections': {
    env: 'GATEWAY_MAX_CONNECTIONS',
    description: 'Open WebSockets in all; past it upgrades get 503 + Retry-After',
    default: '10000',
  },
  'max-connections-per-ip': {
    env: 'GATEWAY_MAX_CONNECTIONS_PER_IP',
    description: 'Open WebSockets per client address',
    default: '100',
  },
  'rate-limit': {
    env: 'GATEWAY_RATE_LIMIT',
    description: 'Frames per second per connection (0: unlimited); over it the socket is paused',
    default: '200',
  },
  'rate-burst': {
    env: 'GATEWAY_RATE_BURST',
    description: 'Frames a connection may send at once above the rate',
    default: '400',
  },
  'flood-grace': {
    env: 'GATEWAY_FLOOD_GRACE',
    description: 'Sending at or over the rate this long closes with 1008',
    default: '10s',
  },
  'idle-timeout': {
    env: 'GATEWAY_IDLE_TIMEOUT',
    description: 'No frame either way this long ends the stream: DEADLINE_EXCEEDED (0 disables)',
    default: '10m',
  },
  'max-stream-lifetime': {
    env: 'GATEWAY_MAX_STREAM_LIFETIME',
    description:
      'Longest a stream may live: DEADLINE_EXCEEDED (v1: the socket then closes; v2: that stream only) (0 disables)',
    default: '0',
  },
  'header-timeout': {
    env: 'GATEWAY_HEADER_TIMEOUT',
    description: 'Time a client gets to send its request headers (slowloris)',
    default: '10s',
  },
  'auth-tokens': {
    env: 'GATEWAY_AUTH_TOKENS',
    description: 'Static bearer tokens accepted at the gateway (comma-separated); 401 otherwise',
  },
  'auth-tokens-file': {
    env: 'GATEWAY_AUTH_TOKENS_FILE',
    description: 'File of static bearer tokens, one per line',
  },
  'jwt-key': {
    env: 'GATEWAY_JWT_KEY',
    description: 'PEM public key file (RS/PS/ES/EdDSA) to verify JWT bearer tokens at the gateway',
  },
  'jwt-secret': {
    env: 'GATEWAY_JWT_SECRET',
    description: 'HMAC secret to verify HS256/384/512 JWT bearer tokens at the gateway',
  },
  'jwt-issuer': { env: 'GATEWAY_JWT_ISSUER', description: 'Required JWT issuer (iss)' },
  'jwt-audience': { env: 'GATEWAY_JWT_AUDIENCE', description: 'Required JWT audience (aud)' },
  'tls-cert': { env: 'GATEWAY_TLS_CERT', description: 'PEM certificate file: serve https:// and wss://' },
  'tls-key': { env: 'GATEWAY_TLS_KEY', description: 'PEM private key file for --tls-cert' },
  'trust-proxy': {
    env: 'GATEWAY_TRUST_PROXY',
    description:
      'Behind a reverse proxy: "true", or the proxy addresses/CIDRs (comma-separated) whose X-Forwarded-For/-Proto/-Host are believed',
    default: 'false',
  },
  'metrics-listen': {
    env: 'GATEWAY_METRICS_LISTEN',
    description:
      'Address of the Prometheus /metrics endpoint, apart from the public one ("off" disables; in a cluster the primary serves every worker\'s)',
    default: 'off',
  },
  'shutdown-grace': {
    env: 'GATEWAY_SHUTDOWN_GRACE',
    description: 'Time open streams get to finish on SIGTERM/SIGINT',
    default: '10s',
  },
  'static-dir': {
    env: 'GATEWAY_STATIC_DIR',
    description: 'Directory of the browser client served at /',
    defaultNote: 'clients/browser/dist',
  },
  'log-level': {
    env: 'LOG_LEVEL',
    description: 'fatal, error, warn, info, debug, trace or silent',
    default: 'info',
  },
  proto: {
    env: 'GATEWAY_PROTO',
    description: 'Protocol v2: .proto file whose services /v2 relays (repeatable, comma-separated)',
    defaultNote: 'proto/route_guide.proto,proto/note_feed.proto',
    multiple: true,
  },
  reflection: {
    env: 'GATEWAY_REFLECTION',
    description: "Protocol v2: also learn the core's services through gRPC server reflection at start-up",
    type: 'boolean',
  },
  methods: {
    env: 'GATEWAY_METHODS',
    description:
      'Protocol v2: methods /v2 may call, as patterns (package.Service/Method, * any run of characters; comma-separated); others get PERMISSION_DENIED',
    defaultNote: 'every method of the loaded services',
  },
  'max-streams-per-socket': {
    env: 'GATEWAY_MAX_STREAMS_PER_SOCKET',
    description: 'Protocol v2: open streams per WebSocket; one more open gets RESOURCE_EXHAUSTED',
    default: String(DEFAULT_MAX_STREAMS_PER_SOCKET),
  },
  'max-server-streams-per-socket': {
    env: 'GATEWAY_MAX_SERVER_STREAMS_PER_SOCKET',
    description:
      'Protocol v2: open server-streaming calls (NoteFeed/Watch, ListFeatures) per WebSocket; one more open gets RESOURCE_EXHAUSTED',
    default: String(DEFAULT_MAX_SERVER_STREAMS_PER_SOCKET),
  },
  'max-server-streams-per-ip': {
    env: 'GATEWAY_MAX_SERVER_STREAMS_PER_IP',
    description:
      'Protocol v2: open server-streaming calls per client address, over all its WebSockets (per gateway process); one more open gets RESOURCE_EXHAUSTED',
    default: String(DEFAULT_MAX_SERVER_STREAMS_PER_IP),
  },
} as const satisfies OptionSpecs;

export const gatewayConfigSchema = z.object({
  listen: hostPort,
  core: csv.pipe(z.array(hostPort).min(1, { error: 'expected HOST:PORT[,HOST:PORT…]' })),
  'allowed-origins': csv
    .superRefine((entries, ctx) => {
      const problem = entries.map(allowListEntryProblem).find((p) => p !== undefined);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default([]),
  'forward-headers': csv
    .transform((names) => names.map((name) => name.toLowerCase()))
    .superRefine((names, ctx) => {
      // A header HTTP/2 forbids would fail every call (channel-pool.ts refuses it per call).
      const forbidden = names.find((name) => http2RequestHeaderProblem(name, '') !== undefined);
      if (forbidden)
        ctx.addIssue({
          code: 'custom',
          message: `${forbidden} cannot be sent over HTTP/2 (RFC 9113 §8.2.2)`,
        });
    }),
  'max-frame-size': byteSize.pipe(
    z
      .number()
      .int()
      .min(256)
      .max(16 * 1024 * 1024),
  ),
  'max-message-size': grpcMessageSize,
  'max-rejected-frames': positiveInt,
  'socket-high-water-mark': byteSize.pipe(z.number().int().min(1024)),
  'heartbeat-interval': duration,
  'core-keepalive': duration.pipe(z.number().min(1000)),
  'max-streams-per-channel': positiveInt,
  'core-ca': z.string().min(1).optional(),
  'max-connections': positiveInt,
  'max-connections-per-ip': positiveInt,
  'rate-limit': nonNegativeInt,
  'rate-burst': positiveInt,
  'flood-grace': duration,
  'idle-timeout': duration,
  'max-stream-lifetime': duration,
  'header-timeout': duration.pipe(z.number().min(100)),
  'auth-tokens': csv.optional(),
  'auth-tokens-file': z.string().min(1).optional(),
  'jwt-key': z.string().min(1).optional(),
  'jwt-secret': z.string().min(16, { error: 'a JWT secret must be at least 16 characters' }).optional(),
  'jwt-issuer': z.string().min(1).optional(),
  'jwt-audience': z.string().min(1).optional(),
  'tls-cert': z.string().min(1).optional(),
  'tls-key': z.string().min(1).optional(),
  'trust-proxy': csv.transform((items): boolean | string[] =>
    items.length === 1 && /^(true|false)$/.test(items[0] ?? '') ? items[0] === 'true' : items,
  ),
  'metrics-listen': hostPortOrOff,
  'shutdown-grace': duration,
  'static-dir': z.string().min(1).optional(),
  'log-level': logLevel,
  proto: csv.optional(),
  reflection: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]),
  methods: csv.default([]),
  'max-streams-per-socket': positiveInt,
  'max-server-streams-per-socket': positiveInt,
  'max-server-streams-per-ip': positiveInt,
  'slow-reader-timeout': duration,
});

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

/** Rules across options, checked after each option is valid on its own. */
export function checkGatewayConfig(config: GatewayConfig): string | undefined {
  if (Boolean(config['tls-cert']) !== Boolean(config['tls-key']))
    return '--tls-cert and --tls-key go together';
  if (config['jwt-key'] && config['jwt-secret']) return 'give either --jwt-key or --jwt-secret, not both';
  const target = coreTarget(config.core);
  if (!target.ok) return `invalid --core: ${target.problem}`;
  return undefined;
}

/** Defaults for embedding and tests: the schema applied to the specs' defaults. */
export const defaultGatewayConfig = (
  overrides: Partial<z.input<typeof gatewayConfigSchema>> = {},
): GatewayConfig => gatewayConfigSchema.parse(withDefaults(gatewayOptionSpecs, overrides));

/** v1's socket limits from the settings. */
export const v1Limits = (config: GatewayConfig): V1Limits => ({
  frame: {
    ...DEFAULT_FRAME_LIMITS,
    maxStringLength: Math.min(DEFAULT_FRAME_LIMITS.maxStringLength, config['max-frame-size']),
  },
  maxRejectedFrames: config['max-rejected-frames'],
  socketHighWaterMark: config['socket-high-water-mark'],
  rateLimit: config['rate-limit'],
  rateBurst: config['rate-burst'],
  floodGraceMs: config['flood-grace'],
});

/** v2's socket and stream limits from the settings (the per-socket rejection budgets are at most the protocol's). */
export function v2Limits(config: GatewayConfig): V2Limits {
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
    slowReaderTimeoutMs: config['slow-reader-timeout'],
    maxServerStreams: config['max-server-streams-per-socket'],
  };
}
