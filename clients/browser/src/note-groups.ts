/**
 * Notes grouped by location, deduplicated. The core answers each note with every note at its
 * location, oldest first, ending with the note just sent; so a reply is a newer copy of the list we
 * already show. Live notes (NoteFeed.Watch) add other people's notes as they are stored; the live
 * copy of a note we sent is an echo, left to the reply. Pure: the page renders what this returns.
 */
import type { NoteFrame } from '../../lib/index.js';

export interface ShownNote {
  readonly message: string;
  /** Sent from this page (matched by text at this location). */
  readonly mine: boolean;
  /** Arrived in the latest reply (for a highlight). */
  readonly fresh: boolean;
  /** When this page first showed it (ms since the epoch): notes carry no time of their own. */
  readonly at: number;
}

export interface NoteGroup {
  readonly key: string;
  readonly latitude: number;
  readonly longitude: number;
  /** Oldest first, as the core keeps them. */
  readonly notes: readonly ShownNote[];
  /** Higher is more recent activity. */
  readonly touched: number;
}

interface GroupState {
  latitude: number;
  longitude: number;
  shown: ShownNote[];
  /** The reply being received, or undefined between replies. */
  incoming: string[] | undefined;
  /** Messages sent here whose reply has not ended yet, in send order. */
  pending: string[];
  mine: Map<string, number>;
  /** Messages sent here whose live echo has not arrived yet (count per text). */
  echoes: Map<string, number>;
  /** Other people's live notes shown while a reply was pending: kept when the reply replaces the list. */
  liveWhilePending: string[];
  touched: number;
}

export const locationKey = (latitude: number, longitude: number): string => `${latitude},${longitude}`;

export interface NoteGroups {
  /** A note this page sent (so its reply can be recognised); no location when it was not valid. */
  sent(location: { latitude: number; longitude: number } | undefined, message: string): void;
  /** The gateway rejected the last send: no reply will come for it. */
  rejectedLast(): void;
  /** A note the page sent will get no reply (its fate is final and not "confirmed"). */
  forget(location: { latitude: number; longitude: number }, message: string): void;
  /** Returns the notes shown for the first time (usually one), for an announcement. */
  received(note: NoteFrame, now?: number): ShownNote[];
  /**
   * A note from the live feed. Returns it as shown when it is someone else's; [] when it is the
   * echo of one of ours (the RouteChat reply shows those).
   */
  live(note: NoteFrame, now?: number): ShownNote[];
  /** Most recently active first. */
  list(): NoteGroup[];
  clearPending(): void;
}

export function createNoteGroups(): NoteGroups {
  const groups = new Map<string, GroupState>();
  /** Location keys of our sends awaiting a reply, in order; undefined for a send sure to be rejected. */
  const sendOrder: (string | undefined)[] = [];
  let clock = 0;

  const group = (latitude: number, longitude: number): GroupState => {
    const key = locationKey(latitude, longitude);
    let state = groups.get(key);
    if (!state) {
      state = {
        latitude,
        longitude,
        shown: [],
        incoming: undefined,
        pending: [],
        mine: new Map(),
        echoes: new Map(),
        liveWhilePending: [],
        touched: 0,
      };
      groups.set(key, state);
    }
    return state;
  };

  const show = (state: GroupState, messages: readonly string[], now: number): ShownNote[] => {
    // Old and new lists share a prefix; whatever goes past the old length is fresh.
    const before = state.shown;
    state.shown = messages.map((message, index) => ({
      message,
      mine: (state.mine.get(message) ?? 0) > 0,
      fresh: index >= before.length,
      at: before[index]?.at ?? now,
    }));
    return state.shown.slice(before.length);
  };

  return {
    sent(location, message) {
      if (!location) {
        sendOrder.push(undefined);
        return;
      }
      const state = group(location.latitude, location.longitude);
      state.pending.push(message);
      state.mine.set(message, (state.mine.get(message) ?? 0) + 1);
      state.echoes.set(message, (state.echoes.get(message) ?? 0) + 1);
      sendOrder.push(locationKey(location.latitude, location.longitude));
    },
    rejectedLast() {
      const key = sendOrder.pop();
      const state = key === undefined ? undefined : groups.get(key);
      const message = state?.pending.pop();
      if (state && message !== undefined) {
        state.mine.set(message, (state.mine.get(message) ?? 1) - 1);
        state.echoes.set(message, Math.max(0, (state.echoes.get(message) ?? 1) - 1));
      }
    },
    forget(location, message) {
      const key = locationKey(location.latitude, location.longitude);
      const state = groups.get(key);
      const index = state?.pending.indexOf(message) ?? -1;
      if (!state || index < 0) return;
      state.pending.splice(index, 1);
      state.mine.set(message, (state.mine.get(message) ?? 1) - 1);
      state.echoes.set(message, Math.max(0, (state.echoes.get(message) ?? 1) - 1));
      const at = sendOrder.indexOf(key);
      if (at >= 0) sendOrder.splice(at, 1);
      if (state.pending.length === 0) {
        state.incoming = undefined;
        state.liveWhilePending = [];
      }
    },
    received(note, now = Date.now()) {
      const state = group(note.location.latitude, note.location.longitude);
      state.touched = ++clock;
      if (state.pending.length === 0) {
        // Not a reply to us (a core that broadcasts would do this): just add it.
        return show(state, [...state.shown.map((n) => n.message), note.message], now);
      }
      const incoming = state.incoming ?? [];
      incoming.push(note.message);
      state.incoming = incoming;
      if (note.message === state.pending[0]) {
        state.pending.shift();
        sendOrder.splice(sendOrder.indexOf(locationKey(state.latitude, state.longitude)), 1);
        state.incoming = undefined;
        // A live note stored after ours is not in this reply: keep it after the reply's list.
        const later = state.liveWhilePending.filter((message) => !incoming.includes(message));
        if (state.pending.length === 0) state.liveWhilePending = [];
        return show(state, [...incoming, ...later], now);
      }
      return incoming.length > state.shown.length ? show(state, incoming, now) : [];
    },
    live(note, now = Date.now()) {
      const state = group(note.location.latitude, note.location.longitude);
      const echoes = state.echoes.get(note.message) ?? 0;
      if (echoes > 0) {
        state.echoes.set(note.message, echoes - 1);
        return [];
      }
      state.touched = ++clock;
      if (state.pending.length > 0) state.liveWhilePending.push(note.message);
      const added: ShownNote = { message: note.message, mine: false, fresh: true, at: now };
      state.shown = [...state.shown.map((shown) => ({ ...shown, fresh: false })), added];
      return [added];
    },
    list() {
      return [...groups.entries()]
        .filter(([, state]) => state.shown.length > 0)
        .sort(([, a], [, b]) => b.touched - a.touched)
        .map(([key, state]) => ({
          key,
          latitude: state.latitude,
          longitude: state.longitude,
          notes: state.shown,
          touched: state.touched,
        }));
    },
    clearPending() {
      sendOrder.length = 0;
      for (const state of groups.values()) {
        state.pending = [];
        state.incoming = undefined;
        state.liveWhilePending = [];
      }
    },
  };
}
