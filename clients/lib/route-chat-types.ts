/**
 * RouteChatSocket's public types: its options, its states, what became of each note, its events.
 * `F` is the error frame of the protocol that carries the streams: v1's `ErrorFrame` over a v1
 * socket, v2's `ErrorFrameV2` over a GatewayClient (its reasons as the gateway sent them).
 */
import type { CallStatus } from '../../protocol/common/status.js';
import type { ErrorFrame, NoteFrame, RouteNoteJson } from '../../protocol/v1/frames.js';
import type { ErrorFrameV2 } from '../../protocol/v2/index.js';
import type { Clock } from './clock.js';
import type { FateName } from './fates.js';
import type { NoteErrorFrame, NoteTransport } from './note-transport.js';
import type { ReconnectOptions } from './reconnect.js';
import type { ReconnectingState } from './reconnecting-core.js';
import type { TokenSource } from './token.js';
import type { WebSocketConstructor } from './web-socket-like.js';

/** The note session's options, whatever carries its streams. */
export interface RouteChatSessionOptions {
  /**
   * Off by default. A new stream goes out when one ends retryably; notes waiting in the outbox,
   * and refused ones, go out on it. Retried: UNAVAILABLE, a gateway going away (1001, or an OK
   * status before `end()`), an abnormal close (1006), a handshake timeout, a 429/502/503/504
   * upgrade answer (honouring Retry-After), CANCELLED sent by the server. Never: a refused token,
   * origin or path, an invalid note, a policy close, `close()` or the signal; after `end()` only to
   * deliver notes still waiting. Over a GatewayClient, its socket is the client's to reconnect.
   */
  readonly reconnect?: ReconnectOptions;
  /**
   * With `reconnect`: how long a new stream stays open before notes are written on it. A gateway
   * whose core is down accepts the stream, then fails the call within milliseconds; a note written
   * meanwhile would get the fate unknown, one held back stays in the outbox. Default 250.
   */
  readonly settleMs?: number;
  /** Aborting closes the socket for good (status CANCELLED) and stops every reconnect. */
  readonly signal?: AbortSignal;
  /** Notes waiting for a stream, at most; `send()` beyond it throws OutboxFullError. Default 1000. */
  readonly outboxCapacity?: number;
  /** Notes written and not yet settled, at most, per stream: bounds the unknown fates. Default 32. */
  readonly maxInFlight?: number;
  /**
   * What happens to a note whose fate is unknown (in flight when a stream broke): reported and
   * dropped (`at-most-once`, the default), or reported and resent on the next stream (`at-least-once`:
   * the core may then store it twice; `exactly-once`: each stream opens with this session's
   * producer id and the sequence number of its first note, `note-session` and `note-sequence`,
   * so the core recognises a resend and stores it once; see docs/clients.md for the horizon).
   */
  readonly delivery?: 'at-most-once' | 'at-least-once' | 'exactly-once';
  /**
   * `exactly-once`: the producer id (8 to 64 of A-Z a-z 0-9 - _). Default: 128 random bits, new for
   * each RouteChatSocket, whose notes are numbered from 0.
   */
  readonly producerId?: string;
  /** For tests: the timers' clock and the jitter's random source. */
  readonly clock?: Clock;
  readonly random?: () => number;
}

/** RouteChat over protocol v1: a WebSocket per stream. */
export interface RouteChatSocketOptions extends RouteChatSessionOptions {
  /** `ws://host:port/v1/routechat` (or `wss://`). */
  readonly url: string | URL;
  /**
   * Sent as the `bearer.<token>` subprotocol; the gateway turns it into `authorization: Bearer
   * <token>`. A function is called before every attempt; a 401 is never retried.
   */
  readonly token?: TokenSource;
  /** Defaults to `globalThis.WebSocket` (browsers, Node 22+); in Node 20 pass `ws`'s `WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
  /** No handshake answer within this time fails the attempt (DEADLINE_EXCEEDED). Default 10000. */
  readonly handshakeTimeoutMs?: number;
}

/** RouteChat over a transport of its own: `routeChatOverV2(client)`, a stream of a shared client each. */
export interface RouteChatOverOptions<F extends NoteErrorFrame> extends RouteChatSessionOptions {
  readonly transport: NoteTransport<F>;
}

/**
 * @deprecated The 0.1 form `{ url, WebSocket: routeChatOverV2(client) }`: still works as it did
 * (the URL is ignored, error frames come in v1's words); pass `routeChatOverV2(client)` as
 * `transport` instead, and get v2's own reasons.
 */
export interface LegacyRouteChatOverV2Options extends RouteChatSessionOptions {
  readonly url?: string | URL;
  readonly WebSocket: NoteTransport<ErrorFrameV2>;
}

/** How the stream ended: the final status and the close that carried it. */
export interface CloseOutcome {
  readonly status: CallStatus;
  /**
   * The close code received; 1006 when the connection never opened or was dropped. Over a
   * GatewayClient, the code v1 would have closed with (1000 OK, 1001 a gateway going away,
   * 4000 + code), or the shared socket's own close code when the socket broke.
   */
  readonly closeCode: number;
  readonly closeReason: string;
  /** false when the status was derived from the close (or set locally), not sent by the gateway. */
  readonly statusFrame: boolean;
  /** The HTTP status of a refused upgrade (Node only: browsers do not expose it). */
  readonly httpStatus?: number;
}

/** connecting → open → half-closed → closed, with reconnecting between streams. */
export type ConnectionState =
  | ReconnectingState
  /** `end()` was called: the gateway may still send notes, then the status. */
  | { readonly name: 'half-closed' }
  | { readonly name: 'closed'; readonly outcome: CloseOutcome };

/** What became of one note sent with `send()`. */
export interface NoteFate<F extends NoteErrorFrame = ErrorFrame> {
  /** Per socket, from 1, in `send()` order. */
  readonly id: number;
  readonly note: RouteNoteJson;
  /**
   * confirmed: its echo came back. refused: the gateway did not take it (draining, flooding).
   * rejected: the gateway refused its content. unknown: in flight when the stream broke. unsent:
   * still waiting when the socket closed for good.
   */
  readonly fate: FateName;
  /** true when the note went back to the outbox to go out on the next stream (not final yet). */
  readonly resend: boolean;
  /** Streams the note was written on. */
  readonly attempts: number;
  /** confirmed: from the write to the echo, in ms. */
  readonly latencyMs?: number;
  /** refused, rejected: the gateway's error frame, when one is known. */
  readonly error?: F;
  /**
   * refused, unknown, unsent: the status of the stream that ended, which says why (a refusal by
   * the core, e.g. its note store down, carries the `note-outcome: not-stored` trailer and its message).
   */
  readonly status?: CallStatus;
}

export interface RouteChatEvents<F extends NoteErrorFrame = ErrorFrame> {
  state: ConnectionState;
  /** A note from the core. */
  note: NoteFrame;
  /** The gateway rejected a frame we sent (in its protocol's words); the stream stays open. */
  error: F;
  /** Every fate of every note, the intermediate ones (`resend: true`) included. */
  fate: NoteFate<F>;
  /** The final status (once, whatever the cause). */
  status: CallStatus;
}
