/**
 * Live notes for the page: one `routeguide.NoteFeed/Watch` of a rectangle on a protocol v2 socket
 * (the library's GatewayClient: the page's shared one, or one per watch), watched again by itself
 * after any ending, with backoff.
 *
 * A watch gives new notes only, so every time it is down notes can be missed. This module makes
 * that a fact the page can show: when a watch that was live comes back, it reports the gap (from
 * the moment the old one ended to the moment the new one started).
 *
 * v2 sends no frame when the core has registered a watch; the socket opening is the closest
 * signal. A new watch counts as live once a note arrives or it has stayed open `confirmAfterMs`
 * (a core that is down ends it within milliseconds); the gap ends when its socket opened.
 */

import { type Clock, systemClock } from '../../lib/clock.js';
import {
  type CallStatus,
  GatewayClient,
  type NoteFeedMethods,
  StatusCode,
  type WebSocketConstructor,
} from '../../lib/index.js';
import { backoffPolicy, createBackoff } from '../../lib/reconnect.js';
import { statusText } from './status-text.js';

export const WATCH_METHOD = 'routeguide.NoteFeed/Watch';

type WatchRequest = NoteFeedMethods[typeof WATCH_METHOD]['request'];
type WatchResponse = NoteFeedMethods[typeof WATCH_METHOD]['response'];

/** A live note as the page uses it (proto3 JSON leaves out zeros; here every field is there). */
export interface LiveNote {
  readonly location: { readonly latitude: number; readonly longitude: number };
  readonly message: string;
}

const toLiveNote = (note: WatchResponse): LiveNote => ({
  location: { latitude: note.location?.latitude ?? 0, longitude: note.location?.longitude ?? 0 },
  message: note.message ?? '',
});

export type LiveState =
  /** A watch is being opened and none has been live yet. */
  | { readonly name: 'connecting' }
  | { readonly name: 'live'; readonly since: number }
  /** Down; `since` is when the last live watch ended (undefined: never live yet). */
  | {
      readonly name: 'offline';
      readonly since: number | undefined;
      readonly why: string;
      readonly retryInMs: number;
    }
  /** An ending a retry cannot fix (the gateway does not serve Watch, a refused token…). */
  | { readonly name: 'failed'; readonly why: string }
  | { readonly name: 'stopped' };

/** A time span during which no watch was live: notes stored meanwhile are not shown. */
export interface OfflineGap {
  readonly from: number;
  readonly to: number;
}

interface LiveWatchCommon {
  readonly rectangle: WatchRequest;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly confirmAfterMs?: number;
  readonly clock?: Clock;
}

export type LiveWatchOptions = LiveWatchCommon &
  (
    | {
        /**
         * A shared client (the page's one socket, RouteChat on it too): each watch is a call on it;
         * stopping cancels the call, never the client; its socket and reconnects are the client's.
         */
        readonly client: GatewayClient<NoteFeedMethods>;
      }
    | {
        /** The gateway's `/v2` URL: each watch gets a client (a socket) of its own. */
        readonly url: string;
        readonly WebSocket: WebSocketConstructor;
        readonly token?: string;
      }
  );

export interface LiveWatchEvents {
  state(state: LiveState): void;
  note(note: LiveNote): void;
  gap(gap: OfflineGap): void;
}

export interface LiveWatch {
  readonly state: LiveState;
  /**
   * Ends the current watch (its call; its socket when it has its own) and watches again after the
   * backoff, e.g. when the page's
   * RouteChat connection is going away: a gateway that drains then has no watch holding it.
   */
  reconnect(): void;
  stop(): void;
}

/** Endings that another attempt cannot fix. */
const FINAL_CODES: ReadonlySet<number> = new Set([
  StatusCode.UNIMPLEMENTED,
  StatusCode.PERMISSION_DENIED,
  StatusCode.UNAUTHENTICATED,
  StatusCode.INVALID_ARGUMENT,
]);

/** The smallest rectangle (E7) holding every place: the region the map shows. */
export function regionOf(places: readonly { latitude: number; longitude: number }[]): WatchRequest {
  const lats = places.map((p) => p.latitude);
  const lngs = places.map((p) => p.longitude);
  return {
    lo: { latitude: Math.min(...lats), longitude: Math.min(...lngs) },
    hi: { latitude: Math.max(...lats), longitude: Math.max(...lngs) },
  };
}

export function watchLiveNotes(options: LiveWatchOptions, events: LiveWatchEvents): LiveWatch {
  const clock = options.clock ?? systemClock;
  const confirmAfterMs = options.confirmAfterMs ?? 1000;
  const backoff = createBackoff(
    backoffPolicy({
      retries: Number.POSITIVE_INFINITY,
      initialDelayMs: options.initialDelayMs ?? 500,
      maxDelayMs: options.maxDelayMs ?? 10_000,
    }),
  );
  let state: LiveState = { name: 'connecting' };
  /** When the last live watch ended, while none is live again. */
  let offlineSince: number | undefined;
  /** The attempt whose events count; older ones are ignored. */
  let current: object | undefined;
  let closeCurrent: (() => void) | undefined;
  let retryTimer: unknown;

  const setState = (next: LiveState) => {
    state = next;
    events.state(next);
  };

  const attempt = () => {
    const self = {};
    current = self;
    let openedAt: number | undefined;
    let confirmed = false;
    let confirmTimer: unknown;
    const isCurrent = () => current === self;
    const confirm = () => {
      if (confirmed || !isCurrent()) return;
      confirmed = true;
      clock.clearTimeout(confirmTimer);
      const since = openedAt ?? clock.now();
      if (offlineSince !== undefined) events.gap({ from: offlineSince, to: since });
      offlineSince = undefined;
      setState({ name: 'live', since });
    };
    const onOpened = () => {
      openedAt = clock.now();
      if (isCurrent()) confirmTimer = clock.setTimeout(confirm, confirmAfterMs);
    };
    let client: GatewayClient<NoteFeedMethods>;
    let ownClient: GatewayClient<NoteFeedMethods> | undefined;
    if ('client' in options) {
      client = options.client;
    } else {
      const Base = options.WebSocket;
      // The one signal v2 gives that the watch is on its way: this socket opened.
      class TrackedSocket extends Base {
        constructor(url: string, protocols: string[]) {
          super(url, protocols);
          this.addEventListener('open', onOpened);
        }
      }
      ownClient = new GatewayClient<NoteFeedMethods>(options.url, {
        WebSocket: TrackedSocket,
        ...(options.token ? { token: options.token } : {}),
      });
      client = ownClient;
    }
    const call = client.call(WATCH_METHOD);
    closeCurrent = ownClient ? () => ownClient.close() : () => call.cancel();
    if (!ownClient) {
      // On a shared client the call goes out on the open socket at once, or when it next opens.
      if (client.state.name === 'open') onOpened();
      else {
        const off = client.on('state', (next) => {
          if (next.name !== 'open') return;
          off();
          onOpened();
        });
        void call.status.then(off);
      }
    }
    call.send(options.rectangle);
    call.end();
    void (async () => {
      for await (const note of call.messages) {
        if (!isCurrent()) return;
        confirm();
        backoff.worked();
        events.note(toLiveNote(note));
      }
    })();
    void call.status.then((status: CallStatus) => {
      clock.clearTimeout(confirmTimer);
      ownClient?.close();
      if (!isCurrent()) return;
      current = undefined;
      if (confirmed) {
        offlineSince = clock.now();
        if (openedAt !== undefined && clock.now() - openedAt >= 5 * confirmAfterMs) backoff.worked();
      }
      const why = statusText(status);
      if (FINAL_CODES.has(status.code)) {
        setState({ name: 'failed', why });
        return;
      }
      const delayMs = backoff.next()?.delayMs ?? 0;
      setState({ name: 'offline', since: offlineSince, why, retryInMs: delayMs });
      retryTimer = clock.setTimeout(() => {
        retryTimer = undefined;
        attempt();
      }, delayMs);
    });
  };

  attempt();
  return {
    get state() {
      return state;
    },
    reconnect() {
      // The call's status (UNAVAILABLE, connection closed) then follows the usual path.
      closeCurrent?.();
    },
    stop() {
      if (state.name === 'stopped') return;
      current = undefined;
      closeCurrent?.();
      if (retryTimer !== undefined) clock.clearTimeout(retryTimer);
      retryTimer = undefined;
      setState({ name: 'stopped' });
    },
  };
}
