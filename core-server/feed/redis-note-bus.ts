/**
 * The note bus of several core replicas: Redis pub/sub on one channel. Every core publishes the
 * notes its store appended, and every core's feed subscribes, so a note stored through any core
 * reaches the watchers of all of them, each note once, all watchers in the same order (Redis sends
 * a channel's messages to every subscriber in the order it ran the PUBLISHes).
 *
 * Delivery is at most once, by design of pub/sub: Redis keeps nothing for a subscriber that is not
 * connected. So the gap is made visible instead of silent: when the subscriber connection drops,
 * the feed ends its watchers (UNAVAILABLE) and refuses new ones until the subscription is back; a
 * note published meanwhile reaches no one on this core, and a watcher that comes back gets new notes
 * only. A publish that fails (Redis unreachable) is dropped, not queued: the note is stored, only
 * its live copy is lost. Redis Streams would give replay, at the price of a cursor per core and
 * a trim policy; the feed's contract (new notes only) does not need it.
 *
 * Two connections: a subscribed connection can run no other command, and a publish must never wait
 * behind a slow subscriber read.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { decodeLiveNote, encodeLiveNote } from '../notes/index.js';
import { closeRedisClient, reviveOnUnexpectedEnd } from '../notes/redis-revive.js';
import type { NoteBus, NoteBusSubscriber } from './note-bus.js';

export interface RedisNoteBusOptions {
  /** Where Redis is (host/port or sentinels), credentials, TLS, db: as for the note store. */
  readonly connection: Omit<RedisOptions, 'replyMapping'>;
  /** The channel; put the deployment's key prefix in it (`routeguide:notes`). */
  readonly channel: string;
  /**
   * The note store publishes on `channel` itself, inside its append script (RedisNoteStoreOptions
   * `liveChannel`): every core's watchers then get the notes in the store's own order, which two
   * cores publishing after their appends could not promise. `publish` does nothing.
   */
  readonly storePublishes?: boolean;
  readonly logger?: Logger;
}

export function createRedisNoteBus({
  connection,
  channel,
  storePublishes = false,
  logger,
}: RedisNoteBusOptions): NoteBus {
  const retryStrategy = (attempt: number) => Math.min(100 * attempt, 1000);
  const publisher = new Redis({
    ...connection,
    connectionName: 'routeguide-core-feed-pub',
    // A note that cannot be published now is dropped, not queued for a Redis that may be gone.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy,
  });
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
  let publishFailing = false;

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

  for (const [client, name] of [
    [publisher, 'note-bus publisher'],
    [subscriber, 'note-bus subscriber'],
  ] as const)
    reviveOnUnexpectedEnd(client, { closed: () => closed, delayMs: retryStrategy(1), logger, name });
  // Without 'error' listeners ioredis's connection errors would crash the process.
  publisher.on('error', () => {});
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
    publish(note) {
      if (closed || storePublishes) return;
      publisher.publish(channel, encodeLiveNote(note)).then(
        () => {
          if (publishFailing) logger?.info({ channel }, 'live-notes publishing again');
          publishFailing = false;
        },
        (error: unknown) => {
          // Logged once per outage, not per note.
          if (!publishFailing)
            logger?.warn({ channel, err: error }, 'live notes not published: Redis unreachable');
          publishFailing = true;
        },
      );
    },
    subscribe(subscriber) {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    // Both ways: this core's notes go out, and every core's come in.
    isLive: () => live && !closed && (storePublishes || publisher.status === 'ready'),
    async close() {
      if (closed) return;
      closed = true;
      setLive(false);
      subscribers.clear();
      await Promise.all([publisher, subscriber].map(closeRedisClient));
    },
  };
}
