import { locationKey } from '../geo.js';
import { DEFAULT_NOTE_LIMITS, type NoteStore, type NoteStoreLimits, type StoredNote } from './note-store.js';

interface Entry {
  readonly note: StoredNote;
  readonly seq: number;
  readonly bytes: number;
}

/**
 * In-memory store, bounded by count per location, total count and total bytes. A global FIFO of
 * (location, seq) finds the oldest note anywhere; entries already evicted by the per-location cap
 * are skipped and the FIFO is compacted when stale entries outnumber live ones, so it stays O(1)
 * amortised and bounded. `publish` gets each note at the end of its append (the live-notes bus), so
 * in the store's order.
 */
export function createMemoryNoteStore(
  limits: NoteStoreLimits = DEFAULT_NOTE_LIMITS,
  publish: (note: StoredNote) => void = () => {},
): NoteStore {
  const byLocation = new Map<string, Entry[]>();
  let order: { key: string; seq: number }[] = [];
  let orderHead = 0;
  let nextSeq = 0;
  let totalNotes = 0;
  let totalBytes = 0;

  const dropOldestAt = (key: string, list: Entry[]): void => {
    const evicted = list.shift();
    if (!evicted) return;
    totalNotes -= 1;
    totalBytes -= evicted.bytes;
    if (list.length === 0) byLocation.delete(key);
  };

  const evictOldestAnywhere = (): void => {
    while (orderHead < order.length) {
      const oldest = order[orderHead++]!;
      const list = byLocation.get(oldest.key);
      if (list && list[0]?.seq === oldest.seq) {
        dropOldestAt(oldest.key, list);
        return;
      }
    }
  };

  const compactOrder = (): void => {
    if (orderHead > 1024 && orderHead > order.length / 2) {
      order = order.slice(orderHead);
      orderHead = 0;
    }
    if (order.length - orderHead > 2 * totalNotes + 1024) {
      const live = new Set<string>();
      for (const [key, list] of byLocation) for (const entry of list) live.add(`${key}#${entry.seq}`);
      order = order.slice(orderHead).filter(({ key, seq }) => live.has(`${key}#${seq}`));
      orderHead = 0;
    }
  };

  return {
    async append(note) {
      const key = locationKey(note.location);
      const entry: Entry = {
        note: {
          location: { latitude: note.location.latitude, longitude: note.location.longitude },
          message: note.message,
        },
        seq: nextSeq++,
        bytes: Buffer.byteLength(note.message, 'utf8'),
      };
      let list = byLocation.get(key);
      if (!list) {
        list = [];
        byLocation.set(key, list);
      }
      list.push(entry);
      order.push({ key, seq: entry.seq });
      totalNotes += 1;
      totalBytes += entry.bytes;
      while (list.length > limits.maxNotesPerLocation) dropOldestAt(key, list);
      while (totalNotes > limits.maxTotalNotes || (totalBytes > limits.maxTotalBytes && totalNotes > 1)) {
        evictOldestAnywhere();
      }
      compactOrder();
      publish(entry.note);
      // A snapshot: later appends never change what this caller sends.
      return (byLocation.get(key) ?? []).map((stored) => stored.note);
    },
    stats: () => ({ notes: totalNotes, locations: byLocation.size, bytes: totalBytes }),
    // The process is the store: it is available exactly as long as the core runs.
    watchAvailability(listener) {
      listener(true);
      return () => {};
    },
    close: async () => {},
  };
}
