/** The note store: one interface, an in-process implementation and a shared one on Redis. */
import type { Logger } from 'pino';
import { createMemoryNoteStore } from './memory-store.js';
import type { NoteStore, NoteStoreLimits } from './note-store.js';
import { createRedisNoteStore } from './redis-store.js';
import type { NoteStoreSpec } from './store-spec.js';

export { decodeLiveNote, encodeLiveNote } from './live-note-wire.js';
export { createMemoryNoteStore } from './memory-store.js';
export {
  DEFAULT_NOTE_LIMITS,
  NOTE_OUTCOME_TRAILER,
  type NoteOutcome,
  type NoteStore,
  NoteStoreError,
  type NoteStoreLimits,
  type NoteStoreStats,
  type StoredNote,
} from './note-store.js';
export { createRedisNoteStore, type RedisNoteStoreOptions, redisConnectionOptions } from './redis-store.js';
export { describeNoteStoreSpec, type NoteStoreSpec, parseNoteStoreSpec } from './store-spec.js';

export interface NoteStoreOptions {
  readonly limits: NoteStoreLimits;
  /** Redis only: see RedisNoteStoreOptions. */
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly waitReplicas: number;
  /** Redis only: the channel the append script publishes each stored note on (live notes). */
  readonly liveChannel?: string;
  readonly logger?: Logger;
}

/** The store a `--note-store` value names. Never waits for Redis: availability is reported instead. */
export function createNoteStore(spec: NoteStoreSpec, options: NoteStoreOptions): NoteStore {
  if (spec.kind === 'memory') return createMemoryNoteStore(options.limits);
  return createRedisNoteStore({ spec, ...options });
}
