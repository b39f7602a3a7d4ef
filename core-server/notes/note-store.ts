/**
 * Where RouteChat notes live. The interface is asynchronous so that a shared engine (Redis, for
 * several core replicas) can implement it; `append` must be atomic: the list it returns is the
 * location's notes, oldest first, right after this note was added, never torn by a concurrent append.
 */
import type { LatLng } from '../geo.js';
import type { AppendOnceResult, NoteId } from './note-dedup.js';

export interface StoredNote {
  readonly location: LatLng;
  readonly message: string;
}

export interface NoteStoreStats {
  readonly notes: number;
  readonly locations: number;
  readonly bytes: number;
}

/**
 * What happened to a note whose append failed. `not-stored`: certainly not stored (the engine was
 * not reachable, or refused the command before running it), so resending it cannot duplicate it.
 * `unknown`: the command may have run (it timed out, or the connection dropped after it was sent),
 * so the note may already be in the history: a resend could store it twice.
 */
export type NoteOutcome = 'not-stored' | 'unknown';

/** The RouteChat trailer carrying a failed note's `NoteOutcome` (no `grpc-` prefix: relayed as-is). */
export const NOTE_OUTCOME_TRAILER = 'note-outcome';

export class NoteStoreError extends Error {
  override readonly name = 'NoteStoreError';
  readonly code = 'NOTE_STORE_UNAVAILABLE';
  constructor(
    readonly outcome: NoteOutcome,
    message: string,
  ) {
    super(message);
  }
}

export interface NoteStore {
  /**
   * Adds the note and returns the location's notes, oldest first, ending with this one. Rejects
   * with a `NoteStoreError` only: never half-stores a note, never reports stored a note it did
   * not store.
   */
  append(note: StoredNote): Promise<readonly StoredNote[]>;
  /**
   * `append`, at most once per `id` (note-dedup.ts), atomically: the record of `id` is stored with
   * the note or not at all. A note whose `id` is recorded is neither stored nor published again; it
   * is answered with the location's notes the store still holds up to the first copy, oldest first
   * (the first answer, less what the caps evicted since), ending with the note itself. Rejects with a
   * `NoteStoreError` as `append` does, or a `NoteSequenceConflictError` when `id` is recorded for
   * a different note.
   */
  appendOnce(note: StoredNote, id: NoteId): Promise<AppendOnceResult>;
  /**
   * Notes and bytes currently held (for metrics and tests). A shared engine may answer with its
   * last reading (a second old at most while reachable): the totals are the whole deployment's.
   */
  stats(): NoteStoreStats;
  /**
   * Calls `listener` at once with whether appends can succeed now, then on every change (a shared
   * engine unreachable or stalled → false). The core maps it to its gRPC health status. Returns
   * the function that stops the calls.
   */
  watchAvailability(listener: (available: boolean) => void): () => void;
  /** Releases connections and timers (a shared engine's appends after it reject, `not-stored`). */
  close(): Promise<void>;
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
