/** Sends grpc-js's own diagnostics through pino instead of raw stderr lines. */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

export function routeGrpcLogsTo(logger: Logger): void {
  const log = logger.child({ component: 'grpc-js' });
  const write = (message?: unknown, ...rest: unknown[]) =>
    log.debug([message, ...rest].map(String).join(' '));
  grpc.setLogger({ error: write, info: write, debug: write });
  grpc.setLogVerbosity(grpc.logVerbosity.ERROR);
}
