import type { MethodCatalog } from '../methods/method-registry.js';
import type { CallOpener } from '../upstream/calls.js';

/** The client socket, as the connection needs it (ws's WebSocket satisfies it). */
export interface ConnectionSocket {
  readonly bufferedAmount: number;
  /** A text frame, or a binary one (v2's binary encoding). */
  send(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
  pause(): void;
  resume(): void;
}

/**
 * What every connection machine (v1's, v2's) offers the socket adapter (socket-adapter.ts) and the
 * session registry (registry.ts): the socket's events in, the registry's controls.
 */
export interface ConnectionMachine {
  readonly state: string;
  /** When a frame last went either way (clock ms), for the idle sweep. */
  readonly lastActivity: number;
  /** The gateway itself has stopped reading the socket (backpressure or rate): pongs wait too. */
  readonly readingPaused: boolean;
  onClientText(text: string): void;
  onClientBinary(data: Uint8Array): void;
  /** The socket closed (any reason) or errored: the calls have no client any more. */
  onClientGone(): void;
  onSocketDrain(): void;
  /** Graceful shutdown: half-close the calls, finish with 1001 when their statuses come. */
  beginShutdown(): void;
  /** Grace period over: cancel what is left, UNAVAILABLE, close 1001. */
  forceShutdown(): void;
  /** Ends the calls for a timeout (idle) with DEADLINE_EXCEEDED, and closes the socket. */
  closeForTimeout(message: string): void;
  /**
   * `--max-stream-lifetime`: ends every stream opened before `cutoff` (clock ms) with
   * DEADLINE_EXCEEDED. v2's socket stays open for its other streams; v1's socket is its one stream.
   */
  endStreamsOpenedBefore(cutoff: number, message: string): void;
  /** A bug in the gateway: end everything with INTERNAL, close 1011. */
  fail(): void;
}

/** Time, injectable for tests. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface ConnectionDeps {
  readonly methods: MethodCatalog;
  readonly upstream: CallOpener;
  /** Metadata every call of this socket carries (forwarded headers, the upgrade's token). */
  readonly baseMetadata: Readonly<Record<string, string>>;
  /** The client address's share of server-streaming calls, across its sockets (none: unlimited). */
  readonly addressServerStreams?: Quota;
}

/** A share counted across connections. */
export interface Quota {
  /** Takes one unit: false when none is left (nothing is taken then). */
  take(): boolean;
  give(): void;
  readonly limit: number;
}
