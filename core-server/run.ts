/** Starts a configured core server with its metrics endpoint; used by `main.ts` and `npm start`. */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError, formatHostPort, type HostPort } from '../common/cli-options.js';
import { createTokenInterceptor } from './auth.js';
import type { CoreConfig } from './config.js';
import { FeatureDbError, loadFeatures } from './features.js';
import { createInProcessFeed, registerFeedMetrics } from './feed/index.js';
import { createCoreMetrics, startMetricsServer } from './metrics.js';
import { createMemoryNoteStore } from './note-store.js';
import { createCoreServer, ListenError } from './server.js';

/** Startup failures that are the user's to fix: reported in one line, exit 2. */
export const isKnownCoreStartupError = (error: unknown): error is Error =>
  error instanceof ConfigError || error instanceof FeatureDbError || error instanceof ListenError;

export interface RunningCoreServer {
  readonly address: HostPort;
  /** Graceful stop within the configured grace period. */
  stop(): Promise<void>;
}

export async function runCore(config: CoreConfig, logger: Logger): Promise<RunningCoreServer> {
  if (Boolean(config['tls-cert']) !== Boolean(config['tls-key'])) {
    throw new ConfigError('--tls-cert and --tls-key go together');
  }
  const features = loadFeatures(config.db);
  const notes = createMemoryNoteStore({
    maxNotesPerLocation: config['max-notes-per-location'],
    maxTotalNotes: config['max-total-notes'],
    maxTotalBytes: config['max-total-note-bytes'],
  });
  const metrics = createCoreMetrics({ noteStoreStats: () => notes.stats() });
  // Live notes: the store RouteChat appends to publishes each stored note to this process's feed.
  const live = createInProcessFeed(notes, {
    maxQueuedBytesPerWatcher: config['feed-watcher-buffer'],
    maxWatchers: config['feed-max-watchers'],
  });
  registerFeedMetrics(metrics.registry, () => live.feed.stats());
  const tokens = config['auth-tokens'] ?? [];
  const server = createCoreServer({
    features,
    notes: live.notes,
    feed: live.feed,
    maxMessageBytes: config['max-message-size'],
    maxConcurrentStreams: config['max-concurrent-streams'],
    logger,
    ...(config['tls-cert'] && config['tls-key']
      ? { tls: { cert: readFileSync(config['tls-cert']), key: readFileSync(config['tls-key']) } }
      : {}),
    onNoteStored: metrics.onNoteStored,
    interceptors: [metrics.serverInterceptor, ...(tokens.length > 0 ? [createTokenInterceptor(tokens)] : [])],
  });
  const address = await server.listen(config.listen);
  const metricsServer =
    config['metrics-listen'] === 'off'
      ? undefined
      : await startMetricsServer(metrics.registry, config['metrics-listen']);
  logger.info(
    {
      address: formatHostPort(address),
      metrics: metricsServer ? `http://${formatHostPort(metricsServer.address)}/metrics` : 'off',
      features: features.length,
      db: config.db,
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
      logger.info({ clean }, 'core server stopped');
    },
  };
}
