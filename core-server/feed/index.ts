/** Live notes (`routeguide.NoteFeed`): what the core server and its composition root use. */
export { registerFeedMetrics } from './feed-metrics.js';
export {
  createNoteFeed,
  DEFAULT_FEED_LIMITS,
  type FeedLimits,
  type FeedStats,
  type NoteFeed,
  type WatcherSink,
} from './note-feed.js';
export { createNoteFeedHandlers, WATCH_END_STATUS } from './note-feed-service.js';
