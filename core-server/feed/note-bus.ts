/**
 * How stored notes reach the watchers: the note store publishes each note once, right after its
 * append succeeded, and every core's feed subscribes. The memory bus reaches the watchers of this
 * process; a shared bus (Redis pub/sub) reaches every replica's. Publishing from the store's append,
 * and only there, is what makes the order watchers see the order the store assigned.
 */
import type { StoredNote } from '../note-store.js';

export type NoteListener = (note: StoredNote) => void;

export interface NoteBus {
  /** Hands `note` to every subscriber (of every replica, for a shared bus). Never throws. */
  publish(note: StoredNote): void;
  /** Calls `listener` for each published note, in publication order; returns the unsubscribe. */
  subscribe(listener: NoteListener): () => void;
  /** Releases connections; later publishes are dropped. */
  close(): Promise<void>;
}

/**
 * In-process bus: `publish` calls the listeners synchronously, so a note reaches the watchers in the
 * same turn as the append that stored it, and in append order. A listener that throws does not stop
 * the others (the feed's listener does not throw; this is a guard, not a path).
 */
export function createMemoryNoteBus(): NoteBus {
  const listeners = new Set<NoteListener>();
  let closed = false;
  return {
    publish(note) {
      if (closed) return;
      for (const listener of listeners) {
        try {
          listener(note);
        } catch {
          // One subscriber's fault must not cost the others their note.
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      listeners.clear();
    },
  };
}
