/**
 * How stored notes reach the watchers: the note store publishes each note once, right after its
 * append succeeded, and every core's feed subscribes. The memory bus reaches the watchers of this
 * process; a shared bus (redis-note-bus.ts) reaches every replica's. Publishing from the store's
 * append, and only there, is what makes the order watchers see follow the store.
 */
import type { StoredNote } from '../notes/index.js';

export interface NoteBusSubscriber {
  /** A published note, in publication order. Must not throw. */
  note(note: StoredNote): void;
  /**
   * The subscription dropped: notes published from now until `isLive()` is true again are missed.
   * Called once per interruption.
   */
  interrupted(): void;
}

export interface NoteBus {
  /** Hands `note` to every subscriber (of every replica, for a shared bus); at most once. Never throws. */
  publish(note: StoredNote): void;
  /** Returns the unsubscribe. */
  subscribe(subscriber: NoteBusSubscriber): () => void;
  /** Whether a note published now reaches this process's subscribers. */
  isLive(): boolean;
  /** Releases connections; later publishes are dropped. */
  close(): Promise<void>;
}

/**
 * In-process bus: `publish` calls the subscribers synchronously, so a note reaches the watchers in
 * the same turn as the append that stored it, in append order. Never interrupted.
 */
export function createMemoryNoteBus(): NoteBus {
  const subscribers = new Set<NoteBusSubscriber>();
  let closed = false;
  return {
    publish(note) {
      if (closed) return;
      for (const subscriber of subscribers) subscriber.note(note);
    },
    subscribe(subscriber) {
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    isLive: () => !closed,
    async close() {
      closed = true;
      subscribers.clear();
    },
  };
}
