/**
 * A note store whose append also publishes the note on a bus: the single place that publishes, so
 * every note RouteChat stores reaches the feed once, and in the order the appends resolved. For the
 * memory store that is the order it assigned (its append completes in the turn it was called); for
 * a store on Redis it is that order for the notes of one core (one connection, replies in order),
 * while notes appended through different cores within the same instant may be published in another
 * order than the store's sequence. Exact store order across cores needs the PUBLISH inside the
 * append script itself (the store would then publish, and be passed to the feed undecorated).
 */
import type { NoteStore } from '../notes/index.js';
import type { NoteBus } from './note-bus.js';

export function createPublishingNoteStore(store: NoteStore, bus: NoteBus): NoteStore {
  // Everything but `append` is the store's own (stats, and whatever else a store offers).
  return {
    ...store,
    async append(note) {
      const atLocation = await store.append(note);
      // Published only once stored: a note the store refused (it threw) is never announced.
      bus.publish({
        location: { latitude: note.location.latitude, longitude: note.location.longitude },
        message: note.message,
      });
      return atLocation;
    },
  };
}
