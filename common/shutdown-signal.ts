/** The one place that turns SIGINT/SIGTERM into a graceful stop; a second signal exits at once. */
import type { Logger } from 'pino';

export function stopOnSignal(logger: Logger, stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      logger.info({ signal }, 'shutting down');
      void stop()
        .catch((error: unknown) => logger.error({ err: error }, 'error during shutdown'))
        .finally(() => {
          logger.info('stopped');
          resolve();
        });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** Exit handling shared by every entry point: known errors are one line and exit 2. */
export function runMain(
  program: string,
  main: () => Promise<number>,
  isKnown: (error: unknown) => error is Error,
): void {
  main().then(
    (code) => {
      process.exitCode = code;
      // A cluster worker's IPC channel would keep it alive, and a disconnect would exit it with 0.
      if (process.connected) process.exit(code);
    },
    (error: unknown) => {
      const known = isKnown(error);
      process.stderr.write(
        `${program}: ${known ? error.message : String((error as Error)?.stack ?? error)}\n`,
      );
      process.exitCode = known ? 2 : 1;
      if (process.connected) process.exit(process.exitCode);
    },
  );
}
