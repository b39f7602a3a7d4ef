/**
 * Prometheus metrics of the live-notes feed, read from `feed.stats()` at each scrape: nothing is
 * counted on the delivery path. Names and meanings are listed in docs/operations.md.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { FeedStats } from './note-feed.js';

const PREFIX = 'routeguide_core_feed_';

export function registerFeedMetrics(registry: Registry, stats: () => FeedStats): void {
  const registers = [registry];
  const gauge = (name: string, help: string, read: (s: FeedStats) => number) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      registers,
      collect() {
        this.set(read(stats()));
      },
    });
  // A total kept by the feed, exported as a counter: reset, then set to the feed's running total.
  const counter = (name: string, help: string, read: (s: FeedStats) => number) =>
    new Counter({
      name: `${PREFIX}${name}`,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(stats()));
      },
    });
  gauge('watchers', 'NoteFeed.Watch calls registered for live notes', (s) => s.watchers);
  gauge('queued_bytes', 'Note bytes queued to watchers and not yet flushed', (s) => s.queuedBytes);
  counter(
    'notes_published_total',
    'Stored notes received by the feed from the note bus',
    (s) => s.notesPublished,
  );
  counter(
    'notes_delivered_total',
    'Notes queued to watchers (one per matching watcher)',
    (s) => s.notesDelivered,
  );
  counter(
    'slow_watchers_total',
    'Watchers ended with RESOURCE_EXHAUSTED for falling behind by more than their budget',
    (s) => s.slowWatchersEnded,
  );
  counter(
    'interrupted_watchers_total',
    'Watchers ended with UNAVAILABLE because the live-notes bus subscription dropped (notes may have been missed)',
    (s) => s.interruptedWatchersEnded,
  );
}
