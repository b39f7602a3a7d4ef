/**
 * A note store whose append also publishes the note on a bus: the single place that publishes, so
 * every note RouteChat stores reaches the feed once, and in the order the appends resolved (for the
 * memory store, the order it assigned: its append completes in the turn it was called).
 *
 * A shared store must publish in the same atomic step that orders the note (e.g. PUBLISH inside the
 * Redis append script); for such a store, pass the store as it is and let its own append publish.
 */
import type { NoteStore } from '../note-store.js';
import type { NoteBus } from './note-bus.js';

export function createPublishingNoteStore(store: NoteStore, bus: NoteBus): NoteStore {
  return {
    async append(note) {
      const atLocation = await store.append(note);
      // Published only once stored: a note the store refused (it threw) is never announced.
      bus.publish({
        location: { latitude: note.location.latitude, longitude: note.location.longitude },
        message: note.message,
      });
      return atLocation;
    },
    stats: () => store.stats(),
  };
}
