/**
 * `npm start`: the core server and the gateway together, with defaults (override with the same
 * environment variables as `npm run core` / `npm run gateway`: CORE_*, GATEWAY_*, LOG_LEVEL).
 * Logs are readable lines in a terminal (pino-pretty) and JSON otherwise; `--log-format
 * pretty|json` (or LOG_FORMAT) decides instead.
 * The gateway's metrics are on at a loopback port here (off by default elsewhere).
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import pretty from 'pino-pretty';
import { ConfigError, formatHostPort, parseOptions, readRawOptions } from '../common/cli-options.js';
import { routeGrpcLogsTo } from '../common/grpc-logging.js';
import { runMain, stopOnSignal } from '../common/shutdown-signal.js';
import { startTracing } from '../common/tracing.js';
import { coreConfigSchema, coreOptionSpecs } from '../core-server/config.js';
import { isKnownCoreStartupError, runCore } from '../core-server/run.js';
import { gatewayConfigSchema, gatewayOptionSpecs } from '../gateway/config.js';
import { REDACTED_LOG_PATHS, runGateway } from '../gateway/run.js';

/** `--log-format` or LOG_FORMAT; by default pretty on a terminal, JSON for pipes and files. */
function logFormat(): 'pretty' | 'json' {
  let values: { 'log-format'?: string | undefined };
  try {
    ({ values } = parseArgs({ options: { 'log-format': { type: 'string' } }, strict: true }));
  } catch (error) {
    throw new ConfigError(
      (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'bad arguments',
    );
  }
  const format = values['log-format'] ?? process.env.LOG_FORMAT;
  if (format === undefined) return process.stdout.isTTY ? 'pretty' : 'json';
  if (format !== 'pretty' && format !== 'json') {
    throw new ConfigError(`invalid --log-format: expected pretty or json, got "${format}"`);
  }
  return format;
}
/** Next to the core's 127.0.0.1:9464; GATEWAY_METRICS_LISTEN overrides it ("off" too). */
const START_GATEWAY_METRICS = '127.0.0.1:9465';

async function main(): Promise<number> {
  const coreConfig = parseOptions(
    coreConfigSchema,
    readRawOptions(coreOptionSpecs, [], process.env).raw,
    coreOptionSpecs,
  );
  const logger = pino(
    { level: coreConfig['log-level'], redact: REDACTED_LOG_PATHS },
    logFormat() === 'pretty'
      ? pretty({ colorize: process.stdout.isTTY === true, sync: true, ignore: 'pid,hostname' })
      : process.stdout,
  );
  routeGrpcLogsTo(logger);
  // OTEL_* as for `npm run core` and `npm run gateway`: two services, one process.
  const coreTracing = await startTracing('routeguide-core', logger.child({ name: 'core' }));
  const gatewayTracing = await startTracing(
    'routeguide-gateway',
    logger.child({ name: 'gateway' }),
    process.env,
    {
      global: false,
    },
  );
  const stopTracing = () => Promise.all([gatewayTracing.shutdown(), coreTracing.shutdown()]);
  const core = await runCore(
    coreConfig,
    logger.child({ name: 'core' }),
    coreTracing.tracer ? { tracer: coreTracing.tracer } : {},
  ).catch(async (error: unknown) => {
    await stopTracing();
    throw error;
  });
  const gatewayRaw = readRawOptions(gatewayOptionSpecs, [], process.env).raw;
  const gatewayConfig = parseOptions(
    gatewayConfigSchema,
    {
      ...gatewayRaw,
      core: gatewayRaw.core ?? formatHostPort(core.address),
      'metrics-listen': gatewayRaw['metrics-listen'] ?? START_GATEWAY_METRICS,
    },
    gatewayOptionSpecs,
  );
  let gateway: Awaited<ReturnType<typeof runGateway>>;
  try {
    gateway = await runGateway(
      gatewayConfig,
      logger.child({ name: 'gateway' }),
      gatewayTracing.tracer ? { tracer: gatewayTracing.tracer } : {},
    );
  } catch (error) {
    await core.stop();
    await stopTracing();
    throw error;
  }
  process.stderr.write(
    `\nRouteGuide is up.\n  page:      ${gateway.url}\n  websocket: ${gateway.websocket}\n  gRPC core: ${formatHostPort(core.address)}\n` +
      (gateway.metrics ? `  metrics:   ${gateway.metrics} (gateway)\n` : '') +
      'Ctrl-C stops both.\n\n',
  );
  await stopOnSignal(logger, async () => {
    await gateway.stop();
    await core.stop();
    await stopTracing();
  });
  return 0;
}

runMain(
  'routeguide',
  main,
  (error): error is Error => error instanceof ConfigError || isKnownCoreStartupError(error),
);
