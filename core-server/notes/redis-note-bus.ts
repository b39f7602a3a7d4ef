/**
 * The note bus of several core replicas: a subscription to the Redis channel that the Redis note
 * store's append script publishes every stored note on (redis-append-script.ts). Every core's feed
 * subscribes, so a note stored through any core reaches the watchers of all of them, each note
 * once, all watchers in the store's order (Redis runs the scripts one at a time, and sends a
 * channel's messages to every subscriber in the order it ran the PUBLISHes).
 *
 * Delivery is at most once, by design of pub/sub: Redis keeps nothing for a subscriber that is not
 * connected. So the gap is made visible instead of silent: when the subscriber connection drops,
 * the feed ends its watchers (UNAVAILABLE) and refuses new ones until the subscription is back; a
 * note published meanwhile reaches no one on this core, and a watcher that comes back gets new notes
 * only. Redis Streams would give replay, at the price of a cursor per core and a trim policy; the
 * feed's contract (new notes only) does not need it.
 *
 * Its own connection: a subscribed connection can run no other command (the store's appends).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { decodeLiveNote } from './live-note-wire.js';
import type { NoteBus, NoteBusSubscriber } from './note-bus.js';
import { closeRedisClient, reviveOnUnexpectedEnd } from './redis-revive.js';

export interface RedisNoteBusOptions {
  /** Where Redis is (host/port or sentinels), credentials, TLS, db: as for the note store. */
  readonly connection: Omit<RedisOptions, 'replyMapping'>;
  /** The channel the store's append script publishes on (liveNotesChannel). */
  readonly channel: string;
  readonly logger?: Logger | undefined;
}

export function createRedisNoteBus({ connection, channel, logger }: RedisNoteBusOptions): NoteBus {
  const retryStrategy = (attempt: number) => Math.min(100 * attempt, 1000);
  const subscriber = new Redis({
    ...connection,
    connectionName: 'routeguide-core-feed-sub',
    // Resubscribed by hand on every 'ready', so that "live" means the SUBSCRIBE was confirmed.
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
    retryStrategy,
  });
  const subscribers = new Set<NoteBusSubscriber>();
  let live = false;
  let closed = false;

  const setLive = (now: boolean) => {
    if (now === live) return;
    live = now;
    if (now) logger?.info({ channel }, 'live-notes subscription ready');
    else if (!closed)
      logger?.warn({ channel }, 'live-notes subscription lost: watchers end, notes meanwhile are missed');
    for (const subscriber of subscribers) {
      if (!now) subscriber.interrupted();
    }
  };

  reviveOnUnexpectedEnd(subscriber, {
    closed: () => closed,
    delayMs: retryStrategy(1),
    logger,
    name: 'note-bus subscriber',
  });
  // Without an 'error' listener ioredis's connection errors would crash the process.
  subscriber.on('error', () => {});
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).then(
      () => setLive(true),
      (error: unknown) => logger?.warn({ channel, err: error }, 'live-notes subscribe failed'),
    );
  });
  for (const event of ['close', 'end', 'reconnecting']) subscriber.on(event, () => setLive(false));
  subscriber.on('message', (from: string, payload: string) => {
    if (from !== channel) return;
    const note = decodeLiveNote(payload);
    if (!note) {
      logger?.warn({ channel, bytes: payload.length }, 'dropped a malformed live note');
      return;
    }
    for (const subscriber of subscribers) subscriber.note(note);
  });

  return {
    subscribe(subscriber) {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    isLive: () => live && !closed,
    async close() {
      if (closed) return;
      closed = true;
      setLive(false);
      subscribers.clear();
      await closeRedisClient(subscriber);
    },
  };
}
