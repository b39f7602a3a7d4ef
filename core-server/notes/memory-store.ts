import { locationKey } from '../geo.js';
import { createDedupTable } from './memory-dedup.js';
import {
  type AppendOnceResult,
  DEFAULT_NOTE_DEDUP,
  type NoteDedupOptions,
  type NoteId,
  NoteSequenceConflictError,
  noteDigest,
} from './note-dedup.js';
import { DEFAULT_NOTE_LIMITS, type NoteStore, type NoteStoreLimits, type StoredNote } from './note-store.js';

export interface MemoryNoteStoreOptions {
  readonly dedup?: NoteDedupOptions;
  /** Milliseconds, monotonic: the dedup records' clock (tests pass their own). */
  readonly now?: () => number;
}

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
 * in the store's order. `appendOnce` keeps its (session, sequence) records in memory-dedup.ts.
 */
export function createMemoryNoteStore(
  limits: NoteStoreLimits = DEFAULT_NOTE_LIMITS,
  publish: (note: StoredNote) => void = () => {},
  options: MemoryNoteStoreOptions = {},
): NoteStore {
  const dedup = createDedupTable(
    options.dedup ?? DEFAULT_NOTE_DEDUP,
    options.now ?? (() => performance.now()),
  );
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

  /** Stores the note; returns its entry (its `seq` is its place in the store's order) and the location's list. */
  const store = (note: StoredNote): { entry: Entry; notes: StoredNote[] } => {
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
    return { entry, notes: (byLocation.get(key) ?? []).map((stored) => stored.note) };
  };

  /**
   * The answer to a resend of the note stored as `storeSeq`: the location's notes it still holds up
   * to that one, oldest first, as the first answer was (less what the caps evicted since), always
   * ending with the note itself (resent from the request once evicted: the digest says it is the same).
   */
  const resendReply = (note: StoredNote, storeSeq: number): StoredNote[] => {
    const held = (byLocation.get(locationKey(note.location)) ?? []).filter(
      (stored) => stored.seq <= storeSeq,
    );
    const notes = held.map((stored) => stored.note);
    if (held.at(-1)?.seq !== storeSeq)
      notes.push({
        location: { latitude: note.location.latitude, longitude: note.location.longitude },
        message: note.message,
      });
    return notes;
  };

  return {
    async append(note) {
      return store(note).notes;
    },
    async appendOnce(note: StoredNote, id: NoteId): Promise<AppendOnceResult> {
      const digest = noteDigest(note);
      const recorded = dedup.find(id);
      if (recorded) {
        if (recorded.digest !== digest) throw new NoteSequenceConflictError(id);
        return { notes: resendReply(note, recorded.storeSeq), duplicate: true };
      }
      const { entry, notes } = store(note);
      dedup.remember(id, { storeSeq: entry.seq, digest });
      return { notes, duplicate: false };
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
