/** `npm run gateway`: the WebSocket ⇄ RouteChat gateway as a process (also each worker of cluster.ts). */
import cluster from 'node:cluster';
import { pino } from 'pino';
import { ConfigError, helpText, parseOptions, readRawOptions } from '../common/cli-options.js';
import { routeGrpcLogsTo } from '../common/grpc-logging.js';
import { runMain, stopOnSignal } from '../common/shutdown-signal.js';
import { startTracing } from '../common/tracing.js';
import { gatewayConfigSchema, gatewayOptionSpecs } from './config.js';
import { REDACTED_LOG_PATHS, runGateway } from './run.js';

async function main(argv: readonly string[]): Promise<number> {
  const { help, raw } = readRawOptions(gatewayOptionSpecs, argv, process.env);
  if (help) {
    process.stdout.write(
      `${helpText('routeguide-gateway', 'Relays WebSocket clients to RouteChat streams on a RouteGuide gRPC server.', gatewayOptionSpecs)}\n`,
    );
    return 0;
  }
  const config = parseOptions(gatewayConfigSchema, raw, gatewayOptionSpecs);
  const logger = pino({ name: 'gateway', level: config['log-level'], redact: REDACTED_LOG_PATHS });
  routeGrpcLogsTo(logger);
  const tracing = await startTracing('routeguide-gateway', logger);
  const gateway = await runGateway(config, logger, {
    clusterWorker: cluster.isWorker,
    ...(tracing.tracer ? { tracer: tracing.tracer } : {}),
  }).catch(async (error: unknown) => {
    await tracing.shutdown();
    throw error;
  });
  // The connections' spans end as the gateway closes them; the export is flushed after that.
  await stopOnSignal(logger, () => gateway.stop().finally(() => tracing.shutdown()));
  return 0;
}

runMain(
  'routeguide-gateway',
  () => main(process.argv.slice(2)),
  (error): error is Error => error instanceof ConfigError,
);
