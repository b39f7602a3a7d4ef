/**
 * Idempotent appends: what both stores share. A producer session numbers its notes (protocol's
 * note-session.ts); the store records each (session, sequence) it stores, atomically with the
 * append, and answers a note whose id it has recorded as stored without storing or publishing it
 * again. A record also holds a digest of the note, so a sequence reused for a different note (a
 * producer that restarted its numbering under an old session id) is refused instead of being
 * silently swallowed.
 *
 * Records are bounded twice: per session (storing sequence s forgets s - window, so a session that
 * numbers its notes one by one keeps at most `window`), and in time (a session's records go `ttlMs`
 * after its latest note, or resend). The memory store also caps the records it holds in all.
 */
import { createHash } from 'node:crypto';
import type { StoredNote } from './note-store.js';

/** One note of a producer session. */
export interface NoteId {
  readonly session: string;
  readonly sequence: number;
}

export interface NoteDedupOptions {
  /** A session's records are kept this long after its latest append or resend. */
  readonly ttlMs: number;
  /** Records kept per session: recording sequence s forgets sequence s - window. */
  readonly window: number;
  /** Memory store only: records kept in all; the least recently used session's oldest go first. */
  readonly maxRecords: number;
}

export const DEFAULT_NOTE_DEDUP: NoteDedupOptions = {
  // Well above any client's retry horizon: a reconnect loop gives up, or succeeds, in minutes.
  ttlMs: 24 * 60 * 60 * 1000,
  // Only in-flight notes are ever resent: 4 times the client library's default window (32). And
  // Redis keeps a hash of up to 128 short fields as a listpack, about 30 bytes a record.
  window: 128,
  // About 15 MB in the memory store (150 bytes a record; up to 480 with one record per session).
  maxRecords: 100_000,
};

/** What the store remembers of a stored note: its place in the store's order, and its digest. */
export interface DedupRecord {
  readonly storeSeq: number;
  readonly digest: string;
}

export interface AppendOnceResult {
  /** As `append` returns; for a resend, see NoteStore.appendOnce. */
  readonly notes: readonly StoredNote[];
  /** The id was already recorded: nothing was stored or published. */
  readonly duplicate: boolean;
}

/** The id was recorded for a different note (location or message): nothing was stored. */
export class NoteSequenceConflictError extends Error {
  override readonly name = 'NoteSequenceConflictError';
  readonly code = 'NOTE_SEQUENCE_CONFLICT';
  constructor(readonly id: NoteId) {
    super(
      `note-sequence ${id.sequence} of this note-session was already used for a different note: ` +
        'a new producer needs a new session id',
    );
  }
}

/**
 * 96 bits of SHA-1 over the note's location and message, base64url (16 characters): a resend has
 * the same, and two different notes under one id collide with probability 2^-96.
 */
export function noteDigest(note: StoredNote): string {
  return createHash('sha1')
    .update(`${note.location.latitude},${note.location.longitude}\n${note.message}`)
    .digest('base64url')
    .slice(0, 16);
}
