/**
 * `npm run gateway:cluster -- [gateway flags]` (or `node dist/gateway/cluster.js`): several gateway
 * processes sharing one port, for machines where one process (one core) is not enough. The primary
 * only forks, restarts crashed workers and forwards SIGTERM/SIGINT; each worker is the ordinary
 * gateway (main.ts) with its own upstream pool. node:cluster hands accepted connections to the
 * workers round-robin; a WebSocket stays on the worker that accepted it, so nothing needs to be
 * shared between workers. GATEWAY_WORKERS sets the count (default: available cores). Connection
 * caps are per worker; metrics are not: with --metrics-listen the primary serves one scrape that
 * aggregates every worker's registry (workers share the public port, so a scraper there would reach
 * a different worker each time).
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { pino } from 'pino';
import { type HostPort, parseOptions, readRawOptions } from '../common/cli-options.js';
import { startMetricsServer } from '../common/metrics-http.js';
import { type GatewayConfig, gatewayConfigSchema, gatewayOptionSpecs } from './config.js';
import { clusterMetricsSource } from './observe/metrics.js';

/** The exit code of main.ts for a configuration error: every worker would fail the same way. */
const CONFIG_ERROR_EXIT = 2;

/** The workers' configuration, read here for the metrics address; invalid: the workers report it. */
function primaryConfig(): GatewayConfig | undefined {
  try {
    const { raw } = readRawOptions(gatewayOptionSpecs, process.argv.slice(2), process.env);
    return parseOptions(gatewayConfigSchema, raw, gatewayOptionSpecs);
  } catch {
    return undefined;
  }
}

if (cluster.isPrimary) {
  const config = primaryConfig();
  const metricsListen: HostPort | 'off' = config?.['metrics-listen'] ?? 'off';
  const logger = pino({ name: 'gateway-cluster', level: config?.['log-level'] ?? 'info' });
  const count = Math.max(1, Number(process.env.GATEWAY_WORKERS) || availableParallelism());
  let live = 0;
  let stopping = false;
  let exitCode = 0;
  const fork = () => {
    live += 1;
    cluster.fork();
  };
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  for (let i = 0; i < count; i += 1) fork();
  cluster.on('exit', (worker, code, signal) => {
    live -= 1;
    if (!stopping && code === CONFIG_ERROR_EXIT) {
      exitCode = CONFIG_ERROR_EXIT;
      stop('SIGTERM');
    } else if (!stopping) {
      process.stderr.write(`gateway worker ${worker.process.pid} exited (${signal ?? code}); restarting\n`);
      fork();
    }
    if (stopping && live === 0) process.exit(exitCode);
  });
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  if (metricsListen !== 'off') {
    startMetricsServer(clusterMetricsSource(), metricsListen).then(
      (server) => logger.info({ metrics: server.url, workers: count }, 'cluster metrics listening'),
      (error: unknown) => {
        // Like any listen failure: one line, exit 2 (once the workers have stopped).
        process.stderr.write(`routeguide-gateway: ${(error as Error).message}\n`);
        exitCode = CONFIG_ERROR_EXIT;
        stop('SIGTERM');
      },
    );
  }
} else {
  await import('./main.js');
}
