/** The core server's settings: flags, environment, defaults, validated once. */
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
} from '../common/cli-options.js';
import { DEFAULT_FEATURE_DB } from './features.js';
import { DEFAULT_FEED_LIMITS } from './feed/note-feed.js';
import { DEFAULT_NOTE_DEDUP, DEFAULT_NOTE_LIMITS, parseNoteStoreSpec } from './notes/index.js';

const noteStoreSpec = z.string().transform((value, ctx) => {
  const result = parseNoteStoreSpec(value);
  if (result.ok) return result.spec;
  ctx.addIssue({ code: 'custom', message: result.problem });
  return z.NEVER;
});

export const coreOptionSpecs = {
  listen: {
    env: 'CORE_LISTEN',
    description: 'Address to serve gRPC on; port 0 picks a free port',
    default: '127.0.0.1:50051',
  },
  db: {
    env: 'CORE_DB',
    description: 'Feature database (JSON array of {name, location})',
    defaultNote: 'the bundled 100-feature set',
  },
  'max-notes-per-location': {
    env: 'CORE_MAX_NOTES_PER_LOCATION',
    description: 'RouteChat notes kept per location, oldest evicted',
    default: String(DEFAULT_NOTE_LIMITS.maxNotesPerLocation),
  },
  'max-total-notes': {
    env: 'CORE_MAX_TOTAL_NOTES',
    description: 'RouteChat notes kept in all, oldest evicted',
    default: String(DEFAULT_NOTE_LIMITS.maxTotalNotes),
  },
  'max-total-note-bytes': {
    env: 'CORE_MAX_TOTAL_NOTE_BYTES',
    description: 'Message bytes kept in all, oldest evicted',
    default: `${DEFAULT_NOTE_LIMITS.maxTotalBytes / 1024 ** 2}MiB`,
  },
  'note-store': {
    env: 'CORE_NOTE_STORE',
    description:
      'Where notes live: memory, redis://[user:pass@]HOST:PORT[/DB], rediss://… (TLS) or redis-sentinel://HOST:PORT[,HOST:PORT]/MASTERNAME[/DB]; cores on one Redis share one world',
    default: 'memory',
  },
  'redis-key-prefix': {
    env: 'CORE_REDIS_KEY_PREFIX',
    description: 'Prefix of every Redis key, so several deployments can share one Redis',
    default: 'routeguide:',
  },
  'redis-command-timeout': {
    env: 'CORE_REDIS_COMMAND_TIMEOUT',
    description: 'Longest wait for one Redis command; then the stream ends UNAVAILABLE',
    default: '2s',
  },
  'redis-wait-replicas': {
    env: 'CORE_REDIS_WAIT_REPLICAS',
    description:
      'Replicas that must acknowledge each note (Redis WAIT) before it is confirmed; 0 does not wait',
    default: '0',
  },
  'note-dedup-ttl': {
    env: 'CORE_NOTE_DEDUP_TTL',
    description:
      "How long the store remembers a producer session's notes (note-session, note-sequence) after its latest one: a resend within it is answered as stored, not stored again",
    default: `${DEFAULT_NOTE_DEDUP.ttlMs / 3_600_000}h`,
  },
  'note-dedup-window': {
    env: 'CORE_NOTE_DEDUP_WINDOW',
    description:
      "Sequence numbers remembered per producer session (storing sequence s forgets s minus this): keep it above the clients' in-flight window",
    default: String(DEFAULT_NOTE_DEDUP.window),
  },
  'note-dedup-max-records': {
    env: 'CORE_NOTE_DEDUP_MAX_RECORDS',
    description:
      "--note-store memory only: (session, sequence) records kept in all, the least recently used session's oldest dropped first",
    default: String(DEFAULT_NOTE_DEDUP.maxRecords),
  },
  'feed-watcher-buffer': {
    env: 'CORE_FEED_WATCHER_BUFFER',
    description: 'Live-notes bytes queued to one NoteFeed watcher before it ends RESOURCE_EXHAUSTED',
    default: `${DEFAULT_FEED_LIMITS.maxQueuedBytesPerWatcher / 1024 ** 2}MiB`,
  },
  'feed-max-watchers': {
    env: 'CORE_FEED_MAX_WATCHERS',
    description: 'NoteFeed watchers open at once; more are refused RESOURCE_EXHAUSTED',
    default: String(DEFAULT_FEED_LIMITS.maxWatchers),
  },
  'max-message-size': {
    env: 'CORE_MAX_MESSAGE_SIZE',
    description: 'Largest gRPC message received or sent',
    default: '1MiB',
  },
  'max-concurrent-streams': {
    env: 'CORE_MAX_CONCURRENT_STREAMS',
    description: 'HTTP/2 streams per client connection',
    default: '1000',
  },
  'metrics-listen': {
    env: 'CORE_METRICS_LISTEN',
    description: 'Address of the Prometheus /metrics endpoint ("off" disables)',
    default: '127.0.0.1:9464',
  },
  'tls-cert': { env: 'CORE_TLS_CERT', description: 'PEM certificate file: serve gRPC over TLS' },
  'tls-key': { env: 'CORE_TLS_KEY', description: 'PEM private key file for --tls-cert' },
  'auth-tokens': {
    env: 'CORE_AUTH_TOKENS',
    description:
      'Require one of these bearer tokens (comma-separated) on RouteGuide and NoteFeed calls: UNAUTHENTICATED otherwise',
  },
  'shutdown-grace': {
    env: 'CORE_SHUTDOWN_GRACE',
    description: 'Time in-flight calls get to finish on SIGTERM/SIGINT',
    default: '10s',
  },
  'log-level': {
    env: 'LOG_LEVEL',
    description: 'fatal, error, warn, info, debug, trace or silent',
    default: 'info',
  },
} as const satisfies OptionSpecs;

export const coreConfigSchema = z.object({
  listen: hostPort,
  db: z.string().min(1).default(DEFAULT_FEATURE_DB),
  'max-notes-per-location': positiveInt,
  'max-total-notes': positiveInt,
  'max-total-note-bytes': byteSize,
  'note-store': noteStoreSpec,
  'redis-key-prefix': z.string().max(256),
  'redis-command-timeout': duration.pipe(z.number().int().min(10)),
  'redis-wait-replicas': nonNegativeInt,
  // At least a minute: a bare number is milliseconds, and "24" must not mean a 24 ms horizon.
  'note-dedup-ttl': duration.pipe(
    z
      .number()
      .int()
      .min(60_000)
      .max(30 * 24 * 3_600_000),
  ),
  'note-dedup-window': positiveInt.pipe(z.number().max(1_000_000)),
  'note-dedup-max-records': positiveInt,
  'feed-watcher-buffer': byteSize.pipe(
    z
      .number()
      .int()
      .min(4096)
      .max(16 * 1024 * 1024),
  ),
  'feed-max-watchers': positiveInt,
  'max-message-size': grpcMessageSize,
  'max-concurrent-streams': positiveInt,
  'metrics-listen': hostPortOrOff,
  'tls-cert': z.string().min(1).optional(),
  'tls-key': z.string().min(1).optional(),
  'auth-tokens': csv.optional(),
  'shutdown-grace': duration,
  'log-level': logLevel,
});

export type CoreConfig = z.output<typeof coreConfigSchema>;
