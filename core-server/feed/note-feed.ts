/**
 * The fan-out of live notes to watchers: one subscription to the note bus, a rectangle index of the
 * watchers, and a byte budget per watcher. Knows nothing of gRPC: a watcher is a `WatcherSink` (the
 * service adapts a server stream to it), so the rules here have one home and fast tests.
 *
 * Bounded by construction: a note costs work for the watchers whose region contains it (see
 * rectangle-index.ts), and each watcher may have at most `maxQueuedBytesPerWatcher` of notes queued
 * but not yet flushed to its connection; the note that would pass the budget ends the watcher
 * (`too_slow`) instead of being queued. Nothing else in the feed holds notes.
 */
import type { NoteBus, StoredNote } from '../notes/index.js';
import {
  type Corners,
  createRectangleIndex,
  DEFAULT_RECTANGLE_INDEX_OPTIONS,
  type RectangleIndexOptions,
} from './rectangle-index.js';

export interface FeedLimits {
  /**
   * Bytes of notes (gRPC-framed size) queued to one watcher and not yet flushed; a note that would
   * pass it ends the watcher (`too_slow`). A note always fits an empty queue, so one note larger than
   * the budget still goes through: the bound is this plus one message.
   */
  readonly maxQueuedBytesPerWatcher: number;
  /** Watchers open at once in this process; more are refused (`too_many_watchers`). */
  readonly maxWatchers: number;
}

export const DEFAULT_FEED_LIMITS: FeedLimits = {
  maxQueuedBytesPerWatcher: 1024 * 1024,
  maxWatchers: 2_000,
};

/**
 * Why the feed ended a watcher (a watcher that leaves by itself calls `cancel`). `interrupted`: the
 * bus subscription dropped, so notes may be missed; the watcher is ended rather than left with a gap.
 */
export type WatchEndReason = 'too_slow' | 'shutting_down' | 'interrupted';
/** `unavailable`: the bus is not subscribed (Redis unreachable), so a watcher would miss notes. */
export type WatchRefusal = 'too_many_watchers' | 'shutting_down' | 'unavailable';

export interface WatcherSink {
  /** Queues one note to the watcher; `flushed` runs once it has left the process (it may never run if the call dies). */
  write(note: StoredNote, flushed: () => void): void;
  /** Ends the watch; called at most once, and no `write` follows. */
  end(reason: WatchEndReason): void;
}

export interface Watch {
  /** Unregisters the watcher (client cancelled, call closed); idempotent. */
  cancel(): void;
}

export type WatchResult =
  | { readonly ok: true; readonly watch: Watch }
  | { readonly ok: false; readonly reason: WatchRefusal };

export interface FeedStats {
  readonly watchers: number;
  /** Bytes queued to all live watchers and not yet flushed. */
  readonly queuedBytes: number;
  /** Notes received from the bus. */
  readonly notesPublished: number;
  /** Notes queued to watchers (one per watcher per note). */
  readonly notesDelivered: number;
  /** Watchers ended because they fell behind by more than the budget. */
  readonly slowWatchersEnded: number;
  /** Watchers ended because the bus subscription dropped. */
  readonly interruptedWatchersEnded: number;
}

export interface NoteFeed {
  watch(corners: Corners, sink: WatcherSink): WatchResult;
  /** Ends every watcher with `shutting_down` and refuses new ones: the first step of a graceful stop. */
  drain(): void;
  /** Unsubscribes from the bus (after `drain`). */
  close(): void;
  stats(): FeedStats;
}

export interface NoteFeedOptions {
  readonly bus: NoteBus;
  readonly limits?: FeedLimits;
  readonly index?: RectangleIndexOptions;
}

/**
 * Upper bound of one note's size on the wire: the 5-byte gRPC message header, the location (two
 * int32 fields of at most 11 bytes each, as negative int32 are 10-byte varints, in a 2-byte
 * submessage header) and the message field's tag and length (at most 6 bytes).
 */
export const noteWireBytes = (note: StoredNote): number =>
  5 + 2 + 22 + 6 + Buffer.byteLength(note.message, 'utf8');

interface Watcher {
  readonly sink: WatcherSink;
  queuedBytes: number;
  live: boolean;
}

export function createNoteFeed({
  bus,
  limits = DEFAULT_FEED_LIMITS,
  index: indexOptions = DEFAULT_RECTANGLE_INDEX_OPTIONS,
}: NoteFeedOptions): NoteFeed {
  const index = createRectangleIndex<Watcher>(indexOptions);
  const watchers = new Set<Watcher>();
  let draining = false;
  let queuedBytes = 0;
  let notesPublished = 0;
  let notesDelivered = 0;
  let slowWatchersEnded = 0;
  let interruptedWatchersEnded = 0;

  /** Takes the watcher out: its queued bytes no longer count, and late `flushed` calls do nothing. */
  const unregister = (watcher: Watcher): boolean => {
    if (!watcher.live) return false;
    watcher.live = false;
    watchers.delete(watcher);
    index.remove(watcher);
    queuedBytes -= watcher.queuedBytes;
    watcher.queuedBytes = 0;
    return true;
  };

  const end = (watcher: Watcher, reason: WatchEndReason): void => {
    if (!unregister(watcher)) return;
    if (reason === 'too_slow') slowWatchersEnded += 1;
    if (reason === 'interrupted') interruptedWatchersEnded += 1;
    watcher.sink.end(reason);
  };

  const deliver = (note: StoredNote): void => {
    notesPublished += 1;
    const bytes = noteWireBytes(note);
    index.forEachContaining(note.location, (watcher) => {
      if (watcher.queuedBytes > 0 && watcher.queuedBytes + bytes > limits.maxQueuedBytesPerWatcher) {
        end(watcher, 'too_slow');
        return;
      }
      watcher.queuedBytes += bytes;
      queuedBytes += bytes;
      notesDelivered += 1;
      watcher.sink.write(note, () => {
        if (!watcher.live) return;
        watcher.queuedBytes -= bytes;
        queuedBytes -= bytes;
      });
    });
  };

  const endAll = (reason: WatchEndReason) => {
    for (const watcher of [...watchers]) end(watcher, reason);
  };
  const unsubscribe = bus.subscribe({ note: deliver, interrupted: () => endAll('interrupted') });

  return {
    watch(corners, sink) {
      if (draining) return { ok: false, reason: 'shutting_down' };
      if (!bus.isLive()) return { ok: false, reason: 'unavailable' };
      if (watchers.size >= limits.maxWatchers) return { ok: false, reason: 'too_many_watchers' };
      const watcher: Watcher = { sink, queuedBytes: 0, live: true };
      watchers.add(watcher);
      index.add(watcher, corners);
      return { ok: true, watch: { cancel: () => void unregister(watcher) } };
    },
    drain() {
      draining = true;
      endAll('shutting_down');
    },
    close() {
      unsubscribe();
    },
    stats: () => ({
      watchers: watchers.size,
      queuedBytes,
      notesPublished,
      notesDelivered,
      slowWatchersEnded,
      interruptedWatchersEnded,
    }),
  };
}
