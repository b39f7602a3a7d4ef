/**
 * The note store: one interface, an in-process implementation and a shared one on Redis, each with
 * the bus its stored notes are published on (live notes).
 */
import type { Logger } from 'pino';
import { liveNotesChannel } from './live-note-wire.js';
import { createMemoryNoteStore } from './memory-store.js';
import { createMemoryNoteBus, type NoteBus } from './note-bus.js';
import { DEFAULT_NOTE_DEDUP, type NoteDedupOptions } from './note-dedup.js';
import { DEFAULT_NOTE_LIMITS, type NoteStore, type NoteStoreLimits } from './note-store.js';
import { createRedisNoteBus } from './redis-note-bus.js';
import { createRedisNoteStore, type RedisNoteStoreOptions, redisClientOptions } from './redis-store.js';
import type { NoteStoreSpec } from './store-spec.js';

export { createMemoryNoteStore, type MemoryNoteStoreOptions } from './memory-store.js';
export type { NoteBus, NoteBusSubscriber } from './note-bus.js';
export {
  type AppendOnceResult,
  DEFAULT_NOTE_DEDUP,
  type NoteDedupOptions,
  type NoteId,
  NoteSequenceConflictError,
} from './note-dedup.js';
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
export { createRedisNoteStore, type RedisNoteStoreOptions } from './redis-store.js';
export { describeNoteStoreSpec, type NoteStoreSpec, parseNoteStoreSpec } from './store-spec.js';

/** A store and the bus it publishes each stored note on, once, in its own order. */
export interface Notes {
  readonly store: NoteStore;
  readonly bus: NoteBus;
}

export interface NoteStoreOptions {
  readonly limits: NoteStoreLimits;
  /** Both stores: how long and how many (session, sequence) records are kept. */
  readonly dedup: NoteDedupOptions;
  /** Redis only: see RedisNoteStoreOptions. */
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  readonly waitReplicas: number;
  /** Each Redis connection logs as its own `component` (note-store, note-bus). */
  readonly logger?: Logger;
}

/** One process's notes: the store feeds its in-process bus after each append. */
export function createMemoryNotes(
  limits: NoteStoreLimits = DEFAULT_NOTE_LIMITS,
  dedup: NoteDedupOptions = DEFAULT_NOTE_DEDUP,
): Notes {
  const bus = createMemoryNoteBus();
  return { store: createMemoryNoteStore(limits, bus.publish, { dedup }), bus };
}

/** Notes shared by the cores on one Redis and key prefix: the bus hears the append script's PUBLISHes. */
export function createRedisNotes(options: RedisNoteStoreOptions): Notes {
  const logger = (component: string) => options.logger?.child({ component });
  const bus = createRedisNoteBus({
    connection: redisClientOptions(options),
    channel: liveNotesChannel(options.keyPrefix),
    logger: logger('note-bus'),
  });
  return { store: createRedisNoteStore({ ...options, logger: logger('note-store') }), bus };
}

/** The notes a `--note-store` value names. Never waits for Redis: availability is reported instead. */
export function createNotes(spec: NoteStoreSpec, options: NoteStoreOptions): Notes {
  if (spec.kind === 'memory') return createMemoryNotes(options.limits, options.dedup);
  return createRedisNotes({ spec, ...options });
}
