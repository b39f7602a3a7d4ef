/** Starts a configured gateway and listens; used by `main.ts` and `npm start`. */
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { ConfigError, formatHostPort, type HostPort } from '../common/cli-options.js';
import { type MetricsServer, startMetricsServer } from '../common/metrics-http.js';
import { ROUTECHAT_PATH } from '../protocol/v1/index.js';
import { buildGateway } from './app.js';
import type { GatewayConfig } from './config.js';
import { checkGatewayConfig } from './config.js';
import { createGatewayMetrics, shareWithClusterPrimary } from './observe/metrics.js';

/** Never log a credential, whatever a future log line carries: pino `redact` paths for any gateway logger. */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'metadata.authorization',
  'token',
];

export interface RunningGatewayServer {
  readonly address: HostPort;
  /** The page, e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  /** The RouteChat endpoint, e.g. ws://127.0.0.1:8080/v1/routechat */
  readonly websocket: string;
  /** The Prometheus endpoint on its own address, e.g. http://127.0.0.1:9465/metrics; undefined when off. */
  readonly metrics: string | undefined;
  /** Graceful stop: 503 to new upgrades, drain streams within the grace period, close 1001. */
  stop(): Promise<void>;
}

export interface RunGatewayOptions {
  /** A node:cluster worker: the primary serves the metrics of every worker (cluster.ts). */
  readonly clusterWorker?: boolean;
  /** Trace connections, streams and calls (common/tracing.ts); absent: tracing is off. */
  readonly tracer?: Tracer;
}

export async function runGateway(
  config: GatewayConfig,
  logger: Logger,
  options: RunGatewayOptions = {},
): Promise<RunningGatewayServer> {
  const inconsistency = checkGatewayConfig(config);
  if (inconsistency) throw new ConfigError(inconsistency);
  // Traced, the histograms carry exemplars (served as OpenMetrics).
  const metrics = createGatewayMetrics(undefined, { exemplars: options.tracer !== undefined });
  const { app } = await buildGateway(config, {
    logger,
    metrics,
    ...(options.tracer ? { tracer: options.tracer } : {}),
  });
  // Metrics first: a gateway without the metrics it was asked for must not take traffic, even briefly.
  let metricsServer: MetricsServer | undefined;
  if (options.clusterWorker) shareWithClusterPrimary(metrics.registry);
  else if (config['metrics-listen'] !== 'off') {
    try {
      metricsServer = await startMetricsServer(metrics.registry, config['metrics-listen']);
    } catch (error) {
      await app.close();
      throw new ConfigError((error as Error).message);
    }
  }
  try {
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (error) {
    await app.close();
    await metricsServer?.close();
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'EADDRINUSE'
        ? `cannot listen on ${formatHostPort(config.listen)}: address already in use`
        : `cannot listen on ${formatHostPort(config.listen)}: ${(error as Error).message}`,
    );
  }
  const bound = app.server.address();
  const address =
    typeof bound === 'object' && bound ? { host: config.listen.host, port: bound.port } : config.listen;
  const secure = Boolean(config['tls-cert']);
  const url = `${secure ? 'https' : 'http'}://${formatHostPort(address)}/`;
  const websocket = `${secure ? 'wss' : 'ws'}://${formatHostPort(address)}${ROUTECHAT_PATH}`;
  const metricsUrl = metricsServer?.url;
  logger.info(
    {
      address: formatHostPort(address),
      url,
      websocket,
      metrics: metricsUrl ?? (options.clusterWorker ? 'cluster primary' : 'off'),
      core: config.core.map(formatHostPort).join(','),
    },
    'gateway listening',
  );
  return {
    address,
    url,
    websocket,
    metrics: metricsUrl,
    async stop() {
      await app.close();
      await metricsServer?.close();
    },
  };
}
