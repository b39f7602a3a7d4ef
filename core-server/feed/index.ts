/** Live notes (`routeguide.NoteFeed`): what the core server and its composition root use. */
import type { NoteStore } from '../note-store.js';
import { createMemoryNoteBus, type NoteBus } from './note-bus.js';
import { createNoteFeed, type FeedLimits, type NoteFeed } from './note-feed.js';
import { createPublishingNoteStore } from './publishing-store.js';

export { registerFeedMetrics } from './feed-metrics.js';
export { createMemoryNoteBus, type NoteBus, type NoteListener } from './note-bus.js';
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

export interface WiredFeed {
  /** The store RouteChat appends to: it publishes every stored note on `bus`. */
  readonly notes: NoteStore;
  readonly feed: NoteFeed;
  readonly bus: NoteBus;
}

/**
 * The feed of one process on the memory bus: `store`'s appends are published in-process. A store
 * that publishes by itself on a shared bus (Redis) is wired with `createNoteFeed({ bus })` and
 * passed as it is, so that it stays the single publisher.
 */
export function createInProcessFeed(store: NoteStore, limits?: FeedLimits): WiredFeed {
  const bus = createMemoryNoteBus();
  return {
    notes: createPublishingNoteStore(store, bus),
    feed: createNoteFeed({ bus, ...(limits ? { limits } : {}) }),
    bus,
  };
}
