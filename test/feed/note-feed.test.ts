/** The live-notes fan-out, through its ports: the memory store with its bus, and recording sinks. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { createNoteFeed, registerFeedMetrics, type WatcherSink } from '../../core-server/feed/index.js';
import { noteWireBytes, type WatchEndReason } from '../../core-server/feed/note-feed.js';
import {
  createMemoryNotes,
  type NoteBus,
  type NoteBusSubscriber,
  type StoredNote,
} from '../../core-server/notes/index.js';
import { REPO_ROOT } from '../helpers/core.js';
import { sample } from '../helpers/prometheus.js';

const at = (latitude: number, longitude: number, message: string): StoredNote => ({
  location: { latitude, longitude },
  message,
});
const square = (from: number, to: number) => ({
  lo: { latitude: from, longitude: from },
  hi: { latitude: to, longitude: to },
});

/** A sink that records; `autoFlush` acknowledges each write at once, as a reading client does. */
function recordingSink(autoFlush = true) {
  const notes: string[] = [];
  const pending: (() => void)[] = [];
  const ends: WatchEndReason[] = [];
  const sink: WatcherSink = {
    write(note, flushed) {
      assert.equal(ends.length, 0, 'no write after end');
      notes.push(note.message);
      if (autoFlush) flushed();
      else pending.push(flushed);
    },
    end: (reason) => ends.push(reason),
  };
  return { sink, notes, pending, ends };
}

function setup(limits = { maxQueuedBytesPerWatcher: 1024, maxWatchers: 10 }) {
  const { store, bus } = createMemoryNotes();
  const feed = createNoteFeed({ bus, limits });
  return { bus, store, feed };
}

const watch = (
  feed: ReturnType<typeof setup>['feed'],
  corners: ReturnType<typeof square>,
  sink: WatcherSink,
) => {
  const result = feed.watch(corners, sink);
  assert.ok(result.ok);
  return result.watch;
};

describe('note feed', () => {
  test('each watcher gets the stored notes inside its rectangle, once each, in store order', async () => {
    const { store, feed } = setup();
    const a = recordingSink();
    const b = recordingSink();
    watch(feed, square(0, 10), a.sink);
    watch(feed, { lo: { latitude: 15, longitude: 15 }, hi: { latitude: 5, longitude: 5 } }, b.sink);
    await Promise.all([
      store.append(at(0, 0, 'corner-a')),
      store.append(at(7, 7, 'both')),
      store.append(at(11, 11, 'b-only')),
      store.append(at(20, 20, 'nobody')),
      store.append(at(10, 10, 'edge-both')),
    ]);
    assert.deepEqual(a.notes, ['corner-a', 'both', 'edge-both']);
    assert.deepEqual(b.notes, ['both', 'b-only', 'edge-both']);
    assert.deepEqual(feed.stats().notesDelivered, 6);
    assert.deepEqual(feed.stats().notesPublished, 5);
  });

  test('a watcher that does not flush ends too_slow once its budget is spent; a reading one never does', async () => {
    const { store, feed } = setup({ maxQueuedBytesPerWatcher: 1000, maxWatchers: 10 });
    const slow = recordingSink(false);
    const reader = recordingSink(true);
    watch(feed, square(0, 10), slow.sink);
    watch(feed, square(0, 10), reader.sink);
    const note = at(1, 1, 'x'.repeat(100));
    const perWatcher = Math.floor(1000 / noteWireBytes(note));
    for (let i = 0; i < perWatcher + 5; i += 1) await store.append(note);
    assert.equal(slow.notes.length, perWatcher);
    assert.deepEqual(slow.ends, ['too_slow']);
    assert.equal(reader.notes.length, perWatcher + 5);
    assert.deepEqual(reader.ends, []);
    const stats = feed.stats();
    assert.equal(stats.watchers, 1);
    assert.equal(stats.slowWatchersEnded, 1);
    assert.equal(stats.queuedBytes, 0, 'an ended watcher no longer counts its queue');
    for (const flushed of slow.pending) flushed();
    assert.equal(feed.stats().queuedBytes, 0, 'late flushes of an ended watcher change nothing');
  });

  test('flushed notes free their budget, and a note bigger than the budget still reaches an empty queue', async () => {
    const { store, feed } = setup({ maxQueuedBytesPerWatcher: 500, maxWatchers: 10 });
    const sink = recordingSink(false);
    watch(feed, square(0, 10), sink.sink);
    await store.append(at(1, 1, 'y'.repeat(2000)));
    assert.equal(feed.stats().queuedBytes, noteWireBytes(at(1, 1, 'y'.repeat(2000))));
    sink.pending.shift()?.();
    assert.equal(feed.stats().queuedBytes, 0);
    for (let i = 0; i < 20; i += 1) {
      await store.append(at(1, 1, 'small'));
      sink.pending.shift()?.();
    }
    assert.equal(sink.notes.length, 21);
    assert.deepEqual(sink.ends, []);
  });

  test('cancel frees the registration; later notes are not written to it', async () => {
    const { store, feed } = setup();
    const sink = recordingSink();
    const handle = watch(feed, square(0, 10), sink.sink);
    assert.equal(feed.stats().watchers, 1);
    handle.cancel();
    handle.cancel();
    assert.equal(feed.stats().watchers, 0);
    await store.append(at(1, 1, 'after'));
    assert.deepEqual(sink.notes, []);
  });

  test('refuses watchers past maxWatchers', () => {
    const { feed } = setup({ maxQueuedBytesPerWatcher: 1000, maxWatchers: 2 });
    watch(feed, square(0, 1), recordingSink().sink);
    watch(feed, square(0, 1), recordingSink().sink);
    assert.deepEqual(feed.watch(square(0, 1), recordingSink().sink), {
      ok: false,
      reason: 'too_many_watchers',
    });
  });

  test('drain ends every watcher with shutting_down and refuses new ones', async () => {
    const { store, feed } = setup();
    const sinks = [recordingSink(), recordingSink(false)];
    for (const { sink } of sinks) watch(feed, square(0, 10), sink);
    feed.drain();
    for (const { ends } of sinks) assert.deepEqual(ends, ['shutting_down']);
    assert.equal(feed.stats().watchers, 0);
    assert.deepEqual(feed.watch(square(0, 1), recordingSink().sink), { ok: false, reason: 'shutting_down' });
    await store.append(at(1, 1, 'after drain'));
    for (const { notes } of sinks) assert.deepEqual(notes, []);
  });

  test('a dropped bus subscription ends every watcher (interrupted); while it is down, watches are refused', () => {
    let live = true;
    let subscriber: NoteBusSubscriber | undefined;
    const publish = (note: StoredNote) => subscriber?.note(note);
    const bus: NoteBus = {
      subscribe(s) {
        subscriber = s;
        return () => {
          subscriber = undefined;
        };
      },
      isLive: () => live,
      close: async () => {},
    };
    const feed = createNoteFeed({ bus });
    const sinks = [recordingSink(), recordingSink()];
    for (const { sink } of sinks) watch(feed, square(0, 10), sink);
    live = false;
    subscriber?.interrupted();
    for (const { ends } of sinks) assert.deepEqual(ends, ['interrupted']);
    assert.equal(feed.stats().interruptedWatchersEnded, 2);
    assert.deepEqual(feed.watch(square(0, 1), recordingSink().sink), { ok: false, reason: 'unavailable' });
    live = true;
    const back = recordingSink();
    watch(feed, square(0, 10), back.sink);
    publish(at(1, 1, 'after'));
    assert.deepEqual(back.notes, ['after']);
  });

  test('close unsubscribes the feed from the bus', async () => {
    const { store, feed } = setup();
    const sink = recordingSink();
    watch(feed, square(0, 10), sink.sink);
    feed.close();
    await store.append(at(1, 1, 'after close'));
    assert.deepEqual(sink.notes, []);
    assert.equal(feed.stats().notesPublished, 0);
  });

  test('the feed metrics read its stats at each scrape, and each one is documented in docs/operations.md', async () => {
    const { store, feed } = setup({ maxQueuedBytesPerWatcher: 1000, maxWatchers: 10 });
    const registry = new Registry();
    registerFeedMetrics(registry, () => feed.stats());
    const slow = recordingSink(false);
    watch(feed, square(0, 10), slow.sink);
    for (let i = 0; i < 20; i += 1) await store.append(at(1, 1, 'x'.repeat(100)));
    const text = await registry.metrics();
    assert.equal(sample(text, 'routeguide_core_feed_watchers'), 0);
    assert.equal(sample(text, 'routeguide_core_feed_slow_watchers_total'), 1);
    assert.equal(sample(text, 'routeguide_core_feed_notes_published_total'), 20);
    assert.equal(sample(text, 'routeguide_core_feed_notes_delivered_total'), slow.notes.length);
    const doc = readFileSync(`${REPO_ROOT}docs/operations.md`, 'utf8');
    for (const metric of await registry.getMetricsAsJSON()) {
      assert.ok(doc.includes(`| \`${metric.name}\` |`), metric.name);
    }
  });
});
