/**
 * How stored notes reach the live-notes feed. Each store comes with its bus (createNotes), and the
 * store is what publishes on it, once per note, only after the append succeeded: so the order the
 * watchers see is the store's own. The memory store feeds its in-process bus at the end of each
 * append; the Redis store's append script publishes on the channel that every core's bus
 * subscribes to (redis-note-bus.ts).
 */
import type { StoredNote } from './note-store.js';

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
  /** Returns the unsubscribe. */
  subscribe(subscriber: NoteBusSubscriber): () => void;
  /** Whether a note stored now reaches this process's subscribers. */
  isLive(): boolean;
  /** Releases connections; notes stored after it reach no one. */
  close(): Promise<void>;
}

/**
 * In-process bus: `publish` calls the subscribers synchronously, so a note reaches the watchers in
 * the same turn as the append that stored it, in append order. Never interrupted. Only the memory
 * store publishes on it.
 */
export function createMemoryNoteBus(): NoteBus & { publish(note: StoredNote): void } {
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
