/** Starts a configured core server with its metrics endpoint; used by `main.ts` and `npm start`. */
import { readFileSync } from 'node:fs';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { ConfigError, formatHostPort, type HostPort } from '../common/cli-options.js';
import { createTokenInterceptor } from './auth.js';
import type { CoreConfig } from './config.js';
import { FeatureDbError, loadFeatures } from './features.js';
import { registerFeedMetrics } from './feed/index.js';
import { createCoreMetrics, startMetricsServer } from './metrics.js';
import { createNotes, describeNoteStoreSpec } from './notes/index.js';
import { createCoreServer, ListenError } from './server.js';
import { createCoreTracing } from './traces.js';

/** Startup failures that are the user's to fix: reported in one line, exit 2. */
export const isKnownCoreStartupError = (error: unknown): error is Error =>
  error instanceof ConfigError || error instanceof FeatureDbError || error instanceof ListenError;

export interface RunningCoreServer {
  readonly address: HostPort;
  /** Graceful stop within the configured grace period. */
  stop(): Promise<void>;
}

export interface RunCoreOptions {
  /** Trace calls, note-store operations and live-notes publishes (common/tracing.ts); absent: off. */
  readonly tracer?: Tracer;
}

export async function runCore(
  config: CoreConfig,
  logger: Logger,
  options: RunCoreOptions = {},
): Promise<RunningCoreServer> {
  if (Boolean(config['tls-cert']) !== Boolean(config['tls-key'])) {
    throw new ConfigError('--tls-cert and --tls-key go together');
  }
  const features = loadFeatures(config.db);
  // A Redis store never blocks the start: while Redis is away the core is up and NOT_SERVING.
  const { store: notes, bus } = createNotes(config['note-store'], {
    limits: {
      maxNotesPerLocation: config['max-notes-per-location'],
      maxTotalNotes: config['max-total-notes'],
      maxTotalBytes: config['max-total-note-bytes'],
    },
    dedup: {
      ttlMs: config['note-dedup-ttl'],
      window: config['note-dedup-window'],
      maxRecords: config['note-dedup-max-records'],
    },
    keyPrefix: config['redis-key-prefix'],
    commandTimeoutMs: config['redis-command-timeout'],
    waitReplicas: config['redis-wait-replicas'],
    logger,
  });
  const metrics = createCoreMetrics({ noteStoreStats: () => notes.stats() });
  const tracing = options.tracer
    ? createCoreTracing(options.tracer, {
        noteStore: config['note-store'],
        keyPrefix: config['redis-key-prefix'],
      })
    : undefined;
  const tokens = config['auth-tokens'] ?? [];
  const server = createCoreServer({
    features,
    notes,
    bus,
    feedLimits: {
      maxQueuedBytesPerWatcher: config['feed-watcher-buffer'],
      maxWatchers: config['feed-max-watchers'],
    },
    maxMessageBytes: config['max-message-size'],
    maxConcurrentStreams: config['max-concurrent-streams'],
    logger,
    ...(config['tls-cert'] && config['tls-key']
      ? { tls: { cert: readFileSync(config['tls-cert']), key: readFileSync(config['tls-key']) } }
      : {}),
    onNoteStored: metrics.onNoteStored,
    onNoteDeduplicated: metrics.onNoteDeduplicated,
    ...(tracing ? { notesForCall: (metadata) => tracing.notesForCall(metadata, notes) } : {}),
    interceptors: [
      ...(tracing ? [tracing.serverInterceptor] : []),
      metrics.serverInterceptor,
      ...(tokens.length > 0 ? [createTokenInterceptor(tokens)] : []),
    ],
  });
  registerFeedMetrics(metrics.registry, () => server.feed.stats());
  let address: HostPort;
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  try {
    address = await server.listen(config.listen);
    metricsServer =
      config['metrics-listen'] === 'off'
        ? undefined
        : await startMetricsServer(metrics.registry, config['metrics-listen']);
  } catch (error) {
    // All or nothing: a core without its metrics port must not keep the gRPC port open (the process
    // would half-start, and `npm start` would wait on it forever). Nothing is in flight yet.
    server.grpcServer.forceShutdown();
    // The Redis client reconnects forever: left open, it would keep the failed process alive.
    await Promise.all([notes.close(), bus.close()]);
    throw error;
  }
  logger.info(
    {
      address: formatHostPort(address),
      metrics: metricsServer ? `http://${formatHostPort(metricsServer.address)}/metrics` : 'off',
      features: features.length,
      db: config.db,
      notes: describeNoteStoreSpec(config['note-store']),
      tls: Boolean(config['tls-cert']),
      authentication: tokens.length > 0 ? 'bearer tokens' : 'none',
    },
    'core server listening',
  );
  return {
    address,
    async stop() {
      const clean = await server.shutdown(config['shutdown-grace']);
      await metricsServer?.close();
      await Promise.all([notes.close(), bus.close()]);
      logger.info({ clean }, 'core server stopped');
    },
  };
}
