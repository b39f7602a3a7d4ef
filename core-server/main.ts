/** `npm run core`: the RouteGuide gRPC server as a process. */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import {
  ConfigError,
  formatHostPort,
  helpText,
  parseOptions,
  readRawOptions,
} from '../common/cli-options.js';
import { routeGrpcLogsTo } from '../common/grpc-logging.js';
import { createTokenInterceptor } from './auth.js';
import { coreConfigSchema, coreOptionSpecs } from './config.js';
import { FeatureDbError, loadFeatures } from './features.js';
import { createCoreMetrics, startMetricsServer } from './metrics.js';
import { createMemoryNoteStore } from './note-store.js';
import { createCoreServer, ListenError } from './server.js';

async function main(): Promise<number> {
  const { help, raw } = readRawOptions(coreOptionSpecs, process.argv.slice(2), process.env);
  if (help) {
    process.stdout.write(
      `${helpText('routeguide-core', 'The RouteGuide gRPC server (GetFeature, ListFeatures, RecordRoute, RouteChat).', coreOptionSpecs)}\n`,
    );
    return 0;
  }
  const config = parseOptions(coreConfigSchema, raw, coreOptionSpecs);
  if (Boolean(config['tls-cert']) !== Boolean(config['tls-key']))
    throw new ConfigError('--tls-cert and --tls-key go together');
  const logger = pino({ name: 'core', level: config['log-level'] });
  routeGrpcLogsTo(logger);
  const features = loadFeatures(config.db);
  const notes = createMemoryNoteStore({
    maxNotesPerLocation: config['max-notes-per-location'],
    maxTotalNotes: config['max-total-notes'],
    maxTotalBytes: config['max-total-note-bytes'],
  });
  const metrics = createCoreMetrics({ noteStoreStats: () => notes.stats() });
  const tokens = config['auth-tokens'] ?? [];
  const server = createCoreServer({
    features,
    notes,
    maxMessageBytes: config['max-message-size'],
    maxConcurrentStreams: config['max-concurrent-streams'],
    logger,
    ...(config['tls-cert'] && config['tls-key']
      ? { tls: { cert: readFileSync(config['tls-cert']), key: readFileSync(config['tls-key']) } }
      : {}),
    onNoteStored: metrics.onNoteStored,
    interceptors: [metrics.serverInterceptor, ...(tokens.length > 0 ? [createTokenInterceptor(tokens)] : [])],
  });
  const bound = await server.listen(config.listen);
  const metricsServer =
    config['metrics-listen'] === 'off'
      ? undefined
      : await startMetricsServer(metrics.registry, config['metrics-listen']);
  logger.info(
    {
      address: formatHostPort(bound),
      metrics: metricsServer ? `http://${formatHostPort(metricsServer.address)}/metrics` : 'off',
      features: features.length,
      db: config.db,
      authentication: tokens.length > 0 ? 'bearer tokens' : 'none',
    },
    'core server listening',
  );

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      logger.info({ signal, graceMs: config['shutdown-grace'] }, 'shutting down');
      void server
        .shutdown(config['shutdown-grace'])
        .then(async (clean) => {
          await metricsServer?.close();
          logger.info({ clean }, 'stopped');
        })
        .finally(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const known =
      error instanceof ConfigError || error instanceof FeatureDbError || error instanceof ListenError;
    process.stderr.write(
      `routeguide-core: ${known ? error.message : String((error as Error)?.stack ?? error)}\n`,
    );
    process.exitCode = known ? 2 : 1;
  },
);
