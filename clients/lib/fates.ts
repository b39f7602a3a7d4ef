/**
 * What became of each note written on one stream: the matching rules, pure.
 *
 * - **confirmed**: RouteChat answers a note with the notes at its place, ending with the note
 *   itself, and only after storing it. A received note confirms the oldest in-flight note with
 *   the same location and message. (Two identical notes at one place may be confirmed by an
 *   earlier copy's echo: make notes distinct when the difference matters.)
 * - **refused**: the gateway rejects a valid note only when it stops accepting frames (draining:
 *   `after_end`; a flood: `rate_limited`), and then rejects every later frame too: the refused
 *   notes are the newest ones. So k such error frames on a stream refuse its last k frames still
 *   in flight, decided when the stream ends. They were not delivered: safe to resend.
 * - **rejected**: any other error frame is about content (the gateway's own validation) and a
 *   resend would be refused again: it settles the oldest in-flight raw frame, else note.
 * - **unknown**: in flight when the stream broke, with neither an echo nor an error frame. The core
 *   may or may not have stored it.
 *
 * The core narrows this down when it ends a stream itself: its status carries the trailer
 * `note-outcome`. `not-stored` (a drain, a note store refusing): no unanswered note was stored, all
 * are refused (resent safely). `unknown` (a store timeout): the oldest unanswered note may have
 * been stored and is unknown; the core handles notes one at a time, so the later ones were not.
 */
export type FateName = 'confirmed' | 'refused' | 'rejected' | 'unknown' | 'unsent';

/**
 * Error-frame reasons that mean "not now", not "not this note" (v1's and v2's: v2 also says
 * `no_credit`, which the client's credit accounting should never let happen).
 */
export const TRANSIENT_REJECT_REASONS: ReadonlySet<string> = new Set([
  'after_end',
  'rate_limited',
  'no_credit',
]);

export interface Tracked {
  /** `noteKey()` of a note; undefined for a raw frame (no echo to wait for). */
  readonly key: string | undefined;
}

export interface InFlight<T extends Tracked> {
  /** Notes (not raw frames) written and not settled yet. */
  readonly notes: number;
  /** true once a transient error frame arrived: the gateway takes nothing more on this stream. */
  readonly refusing: boolean;
  sent(item: T, at: number): void;
  /** A received note: the in-flight note it confirms, with when it was written. */
  received(key: string): { item: T; sentAt: number } | undefined;
  /** An error frame: a permanent rejection settles at once; a transient one is counted. */
  errorFrame(reason: string): T | undefined;
  /**
   * The stream is over: refused (the last k transient rejections) and unknown (the rest), unless
   * the core said what became of them (`noteOutcome`, its `note-outcome` trailer).
   */
  settle(noteOutcome?: string): { refused: T[]; unknown: T[] };
}

/** The trailer in which the core says what became of the notes it left unanswered. */
export const NOTE_OUTCOME_TRAILER = 'note-outcome';

export const noteKey = (note: {
  readonly location: { readonly latitude: number; readonly longitude: number };
  readonly message: string;
}): string => JSON.stringify([note.location.latitude, note.location.longitude, note.message]);

export function createInFlight<T extends Tracked>(): InFlight<T> {
  const entries: { item: T; sentAt: number }[] = [];
  let transientRejections = 0;
  const take = (index: number) => entries.splice(index, 1)[0];
  return {
    get notes() {
      return entries.filter((entry) => entry.item.key !== undefined).length;
    },
    get refusing() {
      return transientRejections > 0;
    },
    sent(item, at) {
      entries.push({ item, sentAt: at });
    },
    received(key) {
      const index = entries.findIndex((entry) => entry.item.key === key);
      return index < 0 ? undefined : take(index);
    },
    errorFrame(reason) {
      if (TRANSIENT_REJECT_REASONS.has(reason)) {
        transientRejections += 1;
        return undefined;
      }
      const raw = entries.findIndex((entry) => entry.item.key === undefined);
      const index = raw >= 0 ? raw : entries.length > 0 ? 0 : -1;
      return index < 0 ? undefined : take(index)?.item;
    },
    settle(noteOutcome) {
      const all = entries.splice(0).map((entry) => entry.item);
      const transient = transientRejections;
      transientRejections = 0;
      if (noteOutcome === 'not-stored') return { refused: all, unknown: [] };
      if (noteOutcome === 'unknown') {
        const oldest = all.findIndex((item) => item.key !== undefined);
        if (oldest < 0) return { refused: all, unknown: [] };
        return { refused: all.filter((_, i) => i !== oldest), unknown: [all[oldest] as T] };
      }
      const cut = Math.max(0, all.length - transient);
      return { refused: all.slice(cut), unknown: all.slice(0, cut) };
    },
  };
}
