/**
 * Where RouteChat notes live. The interface is asynchronous so that a shared engine (Redis, for
 * several core replicas) can implement it; `append` must be atomic: the list it returns is the
 * location's notes, oldest first, right after this note was added, never torn by a concurrent append.
 */
import type { LatLng } from '../geo.js';

export interface StoredNote {
  readonly location: LatLng;
  readonly message: string;
}

export interface NoteStoreStats {
  readonly notes: number;
  readonly locations: number;
  readonly bytes: number;
}

export interface NoteStore {
  append(note: StoredNote): Promise<readonly StoredNote[]>;
  /** Notes and bytes currently held (for metrics and tests). */
  stats(): NoteStoreStats;
}

export interface NoteStoreLimits {
  /** Most notes kept at one location; the oldest there is evicted first. */
  readonly maxNotesPerLocation: number;
  /** Most notes kept in all; the oldest anywhere is evicted first. */
  readonly maxTotalNotes: number;
  /** Most message bytes (UTF-8) kept in all; the oldest anywhere is evicted first. */
  readonly maxTotalBytes: number;
}

export const DEFAULT_NOTE_LIMITS: NoteStoreLimits = {
  maxNotesPerLocation: 100,
  maxTotalNotes: 100_000,
  maxTotalBytes: 64 * 1024 * 1024,
};
