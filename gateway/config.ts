/** The gateway's settings: flags, environment, defaults, validated once. */
import { z } from 'zod';
import { byteSize, csv, duration, hostPort, type OptionSpecs, positiveInt } from '../common/cli-options.js';

export const gatewayOptionSpecs = {
  listen: {
    env: 'GATEWAY_LISTEN',
    description: 'Address to serve HTTP/WebSocket on; port 0 picks a free port',
    defaultText: '127.0.0.1:8080',
  },
  core: {
    env: 'GATEWAY_CORE',
    description: 'RouteGuide gRPC server to relay to',
    defaultText: '127.0.0.1:50051',
  },
  'allowed-origins': {
    env: 'GATEWAY_ALLOWED_ORIGINS',
    description:
      'Origins allowed to open a WebSocket (exact scheme://host:port, comma-separated; "*" allows any)',
    defaultText: 'same origin + localhost',
  },
  'forward-headers': {
    env: 'GATEWAY_FORWARD_HEADERS',
    description: 'Upgrade request headers passed to the core as gRPC metadata',
    defaultText: 'authorization,x-request-id,traceparent',
  },
  'max-frame-size': {
    env: 'GATEWAY_MAX_FRAME_SIZE',
    description: 'Largest WebSocket message accepted (bigger: close 1009)',
    defaultText: '64KiB',
  },
  'max-message-size': {
    env: 'GATEWAY_MAX_MESSAGE_SIZE',
    description: 'Largest gRPC message sent to or received from the core',
    defaultText: '1MiB',
  },
  'max-rejected-frames': {
    env: 'GATEWAY_MAX_REJECTED_FRAMES',
    description: 'Rejected frames tolerated per connection before close 1008',
    defaultText: '20',
  },
  'socket-high-water-mark': {
    env: 'GATEWAY_SOCKET_HIGH_WATER_MARK',
    description: 'Bytes queued to a client before the call is paused',
    defaultText: '1MiB',
  },
  'heartbeat-interval': {
    env: 'GATEWAY_HEARTBEAT_INTERVAL',
    description: 'Ping period; a peer that misses a pong is dropped (0 disables)',
    defaultText: '30s',
  },
  'core-keepalive': {
    env: 'GATEWAY_CORE_KEEPALIVE',
    description: 'HTTP/2 keepalive ping period towards the core',
    defaultText: '30s',
  },
  'max-streams-per-channel': {
    env: 'GATEWAY_MAX_STREAMS_PER_CHANNEL',
    description: 'RouteChat calls per HTTP/2 connection to the core before another is opened',
    defaultText: '100',
  },
  'core-ca': { env: 'GATEWAY_CORE_CA', description: 'PEM CA file: reach the core over TLS' },
  'shutdown-grace': {
    env: 'GATEWAY_SHUTDOWN_GRACE',
    description: 'Time open streams get to finish on SIGTERM/SIGINT',
    defaultText: '10s',
  },
  'static-dir': {
    env: 'GATEWAY_STATIC_DIR',
    description: 'Directory of the browser client served at /',
    defaultText: 'clients/browser/dist',
  },
  'log-level': {
    env: 'LOG_LEVEL',
    description: 'fatal, error, warn, info, debug, trace or silent',
    defaultText: 'info',
  },
} as const satisfies OptionSpecs;

export const gatewayConfigSchema = z.object({
  listen: hostPort.default({ host: '127.0.0.1', port: 8080 }),
  core: hostPort.default({ host: '127.0.0.1', port: 50051 }),
  'allowed-origins': csv.default([]),
  'forward-headers': csv
    .transform((names) => names.map((name) => name.toLowerCase()))
    .default(['authorization', 'x-request-id', 'traceparent']),
  'max-frame-size': byteSize
    .pipe(
      z
        .number()
        .int()
        .min(256)
        .max(16 * 1024 * 1024),
    )
    .default(64 * 1024),
  'max-message-size': byteSize
    .pipe(
      z
        .number()
        .int()
        .min(1024)
        .max(2 ** 31 - 1),
    )
    .default(1024 * 1024),
  'max-rejected-frames': positiveInt.default(20),
  'socket-high-water-mark': byteSize.pipe(z.number().int().min(1024)).default(1024 * 1024),
  'heartbeat-interval': duration.default(30_000),
  'core-keepalive': duration.pipe(z.number().min(1000)).default(30_000),
  'max-streams-per-channel': positiveInt.default(100),
  'core-ca': z.string().min(1).optional(),
  'shutdown-grace': duration.default(10_000),
  'static-dir': z.string().min(1).optional(),
  'log-level': z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

/** Defaults for embedding and tests: the schema applied to nothing. */
export const defaultGatewayConfig = (
  overrides: Partial<z.input<typeof gatewayConfigSchema>> = {},
): GatewayConfig => gatewayConfigSchema.parse(overrides);
