/** `npm run core`: the RouteGuide gRPC server as a process. */
import { pino } from 'pino';
import { helpText, parseOptions, readRawOptions } from '../common/cli-options.js';
import { routeGrpcLogsTo } from '../common/grpc-logging.js';
import { runMain, stopOnSignal } from '../common/shutdown-signal.js';
import { startTracing } from '../common/tracing.js';
import { coreConfigSchema, coreOptionSpecs } from './config.js';
import { isKnownCoreStartupError, runCore } from './run.js';

async function main(argv: readonly string[]): Promise<number> {
  const { help, raw } = readRawOptions(coreOptionSpecs, argv, process.env);
  if (help) {
    process.stdout.write(
      `${helpText('routeguide-core', 'The RouteGuide gRPC server (GetFeature, ListFeatures, RecordRoute, RouteChat).', coreOptionSpecs)}\n`,
    );
    return 0;
  }
  const config = parseOptions(coreConfigSchema, raw, coreOptionSpecs);
  const logger = pino({ name: 'core', level: config['log-level'] });
  routeGrpcLogsTo(logger);
  const tracing = await startTracing('routeguide-core', logger);
  const core = await runCore(config, logger, tracing.tracer ? { tracer: tracing.tracer } : {}).catch(
    async (error: unknown) => {
      await tracing.shutdown();
      throw error;
    },
  );
  // The calls' spans end as the server drains; the export is flushed after that.
  await stopOnSignal(logger, () => core.stop().finally(() => tracing.shutdown()));
  return 0;
}

runMain('routeguide-core', () => main(process.argv.slice(2)), isKnownCoreStartupError);
