/**
 * The memory store's (session, sequence) records, with the Redis store's rules (note-dedup.ts): a
 * session's records expire `ttlMs` after its latest append or resend, recording sequence s forgets
 * s - window, and at most `maxRecords` are held in all.
 *
 * Sessions sit in a Map in least-recently-used order (a touch re-inserts the session at the end),
 * so both the expired sessions and the ones to drop for the cap are at its front: each operation
 * costs O(1) amortised, and nothing runs between operations (no timer).
 */
import type { DedupRecord, NoteDedupOptions, NoteId } from './note-dedup.js';

interface SessionRecords {
  /** By sequence, oldest recorded first. */
  readonly records: Map<number, DedupRecord>;
  expiresAt: number;
}

export interface DedupTable {
  /** The record of `id`, if held; finding one counts as the session's activity (its TTL restarts). */
  find(id: NoteId): DedupRecord | undefined;
  remember(id: NoteId, record: DedupRecord): void;
  readonly size: number;
}

export function createDedupTable(options: NoteDedupOptions, now: () => number): DedupTable {
  const sessions = new Map<string, SessionRecords>();
  let size = 0;

  const dropSession = (session: string, entry: SessionRecords) => {
    size -= entry.records.size;
    sessions.delete(session);
  };

  const expire = (at: number) => {
    for (const [session, entry] of sessions) {
      if (entry.expiresAt > at) return;
      dropSession(session, entry);
    }
  };

  const touch = (session: string, entry: SessionRecords, at: number) => {
    entry.expiresAt = at + options.ttlMs;
    sessions.delete(session);
    sessions.set(session, entry);
  };

  return {
    find(id) {
      const at = now();
      expire(at);
      const entry = sessions.get(id.session);
      const record = entry?.records.get(id.sequence);
      if (entry && record) touch(id.session, entry, at);
      return record;
    },
    remember(id, record) {
      const at = now();
      expire(at);
      let entry = sessions.get(id.session);
      if (!entry) {
        entry = { records: new Map(), expiresAt: 0 };
        sessions.set(id.session, entry);
      }
      if (entry.records.delete(id.sequence - options.window)) size -= 1;
      if (!entry.records.has(id.sequence)) size += 1;
      entry.records.set(id.sequence, record);
      touch(id.session, entry, at);
      // The cap: the least recently used session's oldest records go first (never the new one).
      while (size > options.maxRecords) {
        const [session, oldest] = sessions.entries().next().value as [string, SessionRecords];
        const first = oldest.records.keys().next().value as number;
        oldest.records.delete(first);
        size -= 1;
        if (oldest.records.size === 0) sessions.delete(session);
      }
    },
    get size() {
      return size;
    },
  };
}
