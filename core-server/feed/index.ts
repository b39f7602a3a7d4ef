/** Live notes (`routeguide.NoteFeed`): what the core server and its composition root use. */
import type { NoteStore } from '../notes/index.js';
import { createMemoryNoteBus, type NoteBus } from './note-bus.js';
import { createNoteFeed, type FeedLimits, type NoteFeed } from './note-feed.js';
import { createPublishingNoteStore } from './publishing-store.js';

export { registerFeedMetrics } from './feed-metrics.js';
export { createMemoryNoteBus, type NoteBus, type NoteBusSubscriber } from './note-bus.js';
export {
  createNoteFeed,
  DEFAULT_FEED_LIMITS,
  type FeedLimits,
  type FeedStats,
  type NoteFeed,
  type WatcherSink,
} from './note-feed.js';
export { createNoteFeedHandlers, WATCH_END_STATUS } from './note-feed-service.js';
export { createPublishingNoteStore } from './publishing-store.js';
export { createRedisNoteBus, type RedisNoteBusOptions } from './redis-note-bus.js';

export interface WiredFeed {
  /** The store RouteChat appends to: it publishes every stored note on `bus`. */
  readonly notes: NoteStore;
  readonly feed: NoteFeed;
  readonly bus: NoteBus;
}

/**
 * Wires a feed to `bus` and makes `store`'s append publish to it: the memory bus for one process,
 * a Redis bus (createRedisNoteBus) for replicas sharing a Redis note store, whose append script
 * publishes by itself (`storePublishes`).
 */
export function createWiredFeed(
  store: NoteStore,
  bus: NoteBus,
  limits?: FeedLimits,
  { storePublishes = false }: { storePublishes?: boolean } = {},
): WiredFeed {
  return {
    // A store that publishes itself (Redis, in its append script) is used as it is.
    notes: storePublishes ? store : createPublishingNoteStore(store, bus),
    feed: createNoteFeed({ bus, ...(limits ? { limits } : {}) }),
    bus,
  };
}

/** The feed of one process: `store`'s appends are published in-process. */
export const createInProcessFeed = (store: NoteStore, limits?: FeedLimits): WiredFeed =>
  createWiredFeed(store, createMemoryNoteBus(), limits);
