/**
 * `npm run gateway:cluster -- [gateway flags]` (or `node dist/gateway/cluster.js`): several gateway
 * processes sharing one port, for machines where one process (one core) is not enough. The primary
 * only forks, restarts crashed workers and forwards SIGTERM/SIGINT; each worker is the ordinary
 * gateway (main.ts) with its own upstream pool. node:cluster hands accepted connections to the
 * workers round-robin; a WebSocket stays on the worker that accepted it, so nothing needs to be
 * shared between workers. GATEWAY_WORKERS sets the count (default: available cores). Connection
 * caps and metrics are per worker.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';

/** The exit code of main.ts for a configuration error: every worker would fail the same way. */
const CONFIG_ERROR_EXIT = 2;

if (cluster.isPrimary) {
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
} else {
  await import('./main.js');
}
