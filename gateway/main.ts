/** `npm run gateway`: the WebSocket ⇄ RouteChat gateway as a process. */
import { pino } from 'pino';
import {
  ConfigError,
  formatHostPort,
  helpText,
  parseOptions,
  readRawOptions,
} from '../common/cli-options.js';
import { routeGrpcLogsTo } from '../common/grpc-logging.js';
import { ROUTECHAT_PATH } from '../protocol/index.js';
import { buildGateway } from './app.js';
import { checkGatewayConfig, gatewayConfigSchema, gatewayOptionSpecs } from './config.js';
import { createGatewayMetrics } from './metrics.js';

async function main(): Promise<number> {
  const { help, raw } = readRawOptions(gatewayOptionSpecs, process.argv.slice(2), process.env);
  if (help) {
    process.stdout.write(
      `${helpText('routeguide-gateway', 'Relays WebSocket clients to RouteChat streams on a RouteGuide gRPC server.', gatewayOptionSpecs)}\n`,
    );
    return 0;
  }
  const config = parseOptions(gatewayConfigSchema, raw, gatewayOptionSpecs);
  const inconsistency = checkGatewayConfig(config);
  if (inconsistency) throw new ConfigError(inconsistency);
  const logger = pino({
    name: 'gateway',
    level: config['log-level'],
    redact: ['req.headers.authorization', 'headers.authorization', 'metadata.authorization'],
  });
  routeGrpcLogsTo(logger);
  const { app } = await buildGateway(config, { logger, metrics: createGatewayMetrics() });
  try {
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'EADDRINUSE'
        ? `cannot listen on ${formatHostPort(config.listen)}: address already in use`
        : `cannot listen on ${formatHostPort(config.listen)}: ${(error as Error).message}`,
    );
  }
  const address = app.server.address();
  const bound =
    typeof address === 'object' && address ? { host: config.listen.host, port: address.port } : config.listen;
  const secure = Boolean(config['tls-cert']);
  logger.info(
    {
      address: formatHostPort(bound),
      url: `${secure ? 'https' : 'http'}://${formatHostPort(bound)}/`,
      websocket: `${secure ? 'wss' : 'ws'}://${formatHostPort(bound)}${ROUTECHAT_PATH}`,
      core: formatHostPort(config.core),
    },
    'gateway listening',
  );

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      logger.info({ signal, graceMs: config['shutdown-grace'] }, 'shutting down');
      void app.close().then(() => {
        logger.info('stopped');
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
    const known = error instanceof ConfigError;
    process.stderr.write(
      `routeguide-gateway: ${known ? error.message : String((error as Error)?.stack ?? error)}\n`,
    );
    process.exitCode = known ? 2 : 1;
  },
);
