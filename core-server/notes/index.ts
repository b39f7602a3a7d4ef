/** The note store: one interface, an in-process implementation, and (later) shared engines. */
export { createMemoryNoteStore } from './memory-store.js';
export {
  DEFAULT_NOTE_LIMITS,
  type NoteStore,
  type NoteStoreLimits,
  type NoteStoreStats,
  type StoredNote,
} from './note-store.js';
