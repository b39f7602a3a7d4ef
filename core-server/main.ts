/** `npm run core`: the RouteGuide gRPC server as a process. */
import { pino } from 'pino';
import {
  ConfigError,
  formatHostPort,
  helpText,
  parseOptions,
  readRawOptions,
} from '../common/cli-options.js';
import { routeGrpcLogsTo } from '../common/grpc-logging.js';
import { coreConfigSchema, coreOptionSpecs } from './config.js';
import { FeatureDbError, loadFeatures } from './features.js';
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
  const logger = pino({ name: 'core', level: config['log-level'] });
  routeGrpcLogsTo(logger);
  const features = loadFeatures(config.db);
  const server = createCoreServer({
    features,
    notes: createMemoryNoteStore({
      maxNotesPerLocation: config['max-notes-per-location'],
      maxTotalNotes: config['max-total-notes'],
      maxTotalBytes: config['max-total-note-bytes'],
    }),
    maxMessageBytes: config['max-message-size'],
    maxConcurrentStreams: config['max-concurrent-streams'],
    logger,
  });
  const bound = await server.listen(config.listen);
  logger.info(
    { address: formatHostPort(bound), features: features.length, db: config.db },
    'core server listening',
  );

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      logger.info({ signal, graceMs: config['shutdown-grace'] }, 'shutting down');
      void server.shutdown(config['shutdown-grace']).then((clean) => {
        logger.info({ clean }, 'stopped');
        resolve();
      });
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
