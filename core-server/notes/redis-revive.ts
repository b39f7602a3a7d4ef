/**
 * Keeps an ioredis client reconnecting for as long as we have not closed it ourselves.
 *
 * ioredis (6.0) gives up on a client for good, status `end`, when a connect attempt is aborted:
 * with `failoverDetector`, the detector of the connection that was lost is still subscribed to the
 * sentinels' `+switch-master`, and when that message arrives while the client is already
 * reconnecting (asking the sentinels for the master), the detector's disconnect aborts the attempt
 * ("Connection is closed.") and `_connect` ends the client instead of retrying. From then on every
 * command fails with "Connection is closed." for the life of the process: a core that no longer
 * serves after a failover, although Redis is fine. The window is the few ms of a master lookup, so
 * it shows under CPU load, and each core holds two such clients (the store's, the note bus's
 * subscriber). So: an `end` we did not ask for starts a new connect after the retry delay.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface ReviveOptions {
  /** True once the owner closed the client on purpose (then `end` is expected). */
  readonly closed: () => boolean;
  readonly delayMs: number;
  readonly logger?: Logger | undefined;
  /** Which client, for the log line. */
  readonly name: string;
}

export function reviveOnUnexpectedEnd(client: Redis, options: ReviveOptions): void {
  let timer: NodeJS.Timeout | undefined;
  client.on('end', () => {
    if (options.closed() || timer) return;
    options.logger?.warn(
      { client: options.name, retryInMs: options.delayMs },
      'redis client gave up reconnecting (connect aborted by a failover): connecting anew',
    );
    timer = setTimeout(() => {
      timer = undefined;
      if (options.closed() || client.status !== 'end') return;
      // A failed attempt ends in `end` again (handled above) or in ioredis's own retries.
      client.connect().catch(() => {});
    }, options.delayMs);
    timer.unref();
  });
}

/**
 * QUIT (pending replies still arrive), then disconnect. With `failoverDetector`, QUIT alone leaves
 * the detector's connections to the sentinels open and reconnecting: a core on Sentinel would
 * never exit after a graceful stop. `disconnect()` closes them (and is a no-op otherwise).
 */
export async function closeRedisClient(client: Redis): Promise<void> {
  try {
    await client.quit();
  } catch {
    // Not connected: nothing to wait for.
  }
  client.disconnect();
}
