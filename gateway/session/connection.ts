/**
 * One WebSocket, either protocol: every socket-level rule, once. Reading (the rate, and the holds
 * that stop reading), the rejection budget, the output bound, the counters, and the controls the
 * registry drives (shutdown, timeouts, policy, fault). What a protocol says differently (how frames
 * route to streams, how frames look, how the socket closes) is its profile: a subclass
 * (v1-connection.ts: the socket is one RouteChat stream; v2-connection.ts: many streams by id).
 * Streams (stream.ts) know nothing of sockets; this class knows nothing of ws or grpc-js.
 */
import {
  type CallStatus,
  CloseCode,
  type FrameLimits,
  StatusCode,
  truncateCloseReason,
} from '../../protocol/common/index.js';
import { gatewayStatus } from '../upstream/core-status.js';
import type { Clock, ConnectionMachine, ConnectionSocket } from './ports.js';
import { createReadThrottle, type ReadThrottle } from './read-throttle.js';
import type { Stream } from './stream.js';

/** The socket-level limits, the same rules for both protocols. */
export interface SocketLimits {
  readonly frame: FrameLimits;
  /** Frames per second (0: unlimited); over it the socket is not read; for `floodGraceMs`: 1008. */
  readonly rateLimit: number;
  readonly rateBurst: number;
  readonly floodGraceMs: number;
  /** Rejected frames tolerated on the socket before close 1008. */
  readonly maxSocketRejections: number;
  /** Past this many bytes queued to the client, every call's reads pause until it drains. */
  readonly socketHighWaterMark: number;
  /** Over the high-water mark this long (ms) closes the socket with 1008 (0: never). */
  readonly slowReaderTimeoutMs: number;
}

/** How a connection ended, for metrics and the log; one type for both protocols. */
export interface ConnectionOutcome {
  /** 0 when the client closed (or dropped) the socket first. */
  readonly closeCode: number;
  /** Who ended it: a call's own status (v1), the client, policy, shutdown, a timeout, a gateway fault. */
  readonly cause: 'status' | 'client_closed' | 'policy' | 'shutdown' | 'timeout' | 'fault';
  readonly framesIn: number;
  /** Every frame sent. */
  readonly framesOut: number;
  /** Message frames sent (v1: notes). */
  readonly messagesOut: number;
  readonly rejected: number;
  /** Streams opened (v1: its one). */
  readonly streams: number;
  /** The status of the stream whose end closed the socket (v1), or that every stream got. */
  readonly status: CallStatus;
}

export interface ConnectionHooks<Reason extends string = string> {
  /** An error frame was sent (socket-level or on a stream), with its reason. */
  onRejected?(reason: Reason): void;
  onFinished(outcome: ConnectionOutcome): void;
}

/** How the socket closes, once the streams have their statuses. */
export interface Ending {
  readonly code: number;
  readonly reason: string;
  readonly cause: ConnectionOutcome['cause'];
}

export const SHUTDOWN_ENDING: Ending = {
  code: CloseCode.GOING_AWAY,
  reason: 'gateway shutting down',
  cause: 'shutdown',
};

/** Why the gateway is not reading the socket: each is released on its own, reading resumes when none is left. */
const HOLD_RATE = 1;
const HOLD_CALL = 2;
const HOLD_OUTPUT = 4;

const CLIENT_GONE = gatewayStatus(StatusCode.CANCELLED, 'client closed the connection');

/**
 * A class, as the stream is (stream.ts): a gateway holds one per socket, 10,000s, and methods on
 * the prototype cost no memory per connection.
 */
export abstract class SocketConnection<Reason extends string = string> implements ConnectionMachine {
  protected phase: 'open' | 'draining' | 'closed' = 'open';
  protected readonly streams = new Map<string, Stream>();
  protected framesIn = 0;
  protected streamsOpened = 0;
  protected rejected = 0;
  /** The socket is over its high-water mark: every call's reads are paused. */
  protected callsPaused = false;
  #framesOut = 0;
  #messagesOut = 0;
  #lastActivity: number;
  #holds = 0;
  #slowReaderTimer: unknown;
  /** Set by whoever ends the connection on the gateway's side, before the streams get their statuses. */
  #ending: Ending | undefined;
  #endStatus: CallStatus | undefined;
  readonly #throttle: ReadThrottle;

  constructor(
    protected readonly socket: ConnectionSocket,
    protected readonly limits: SocketLimits,
    protected readonly hooks: ConnectionHooks<Reason>,
    protected readonly clock: Clock,
  ) {
    this.#lastActivity = clock.now();
    this.#throttle = createReadThrottle(
      limits,
      clock,
      () => this.#hold(HOLD_RATE),
      () => this.#release(HOLD_RATE),
    );
  }

  // What a profile says differently.

  /** One text frame, charged to the rate already: parse it and route it. */
  protected abstract onFrame(text: string): void;
  /** The text of a socket-level error frame (no stream): a binary frame, or the rate. */
  protected abstract socketErrorText(reason: 'binary_frame' | 'rate_limited', message: string): string;
  /** How the socket closes for a timeout (idle, lifetime). */
  protected abstract timeoutEnding(message: string): Ending;
  /**
   * v2: every frame read may earn an answer (an error, a status, credit), so past the high-water
   * mark the socket itself is not read either. v1 answers only with notes, which pausing the call stops.
   */
  protected abstract readonly holdsReadingOverMark: boolean;
  /** v2 counts rejections against the budget while the gateway drains; v1 does not (its notes are no fault then). */
  protected abstract readonly rejectionsCloseWhileDraining: boolean;

  /** The message of the status every stream gets when the socket closes for policy. */
  protected policyStatusMessage(message: string): string {
    return message;
  }

  /** A stream is over; the socket may close after it (v1: always). */
  protected afterStreamFinished(_stream: Stream, _status: CallStatus): void {
    if (this.phase === 'draining' && this.streams.size === 0) this.closeSocket(SHUTDOWN_ENDING);
  }

  // The socket.

  get state(): string {
    return this.phase;
  }

  get lastActivity(): number {
    return this.#lastActivity;
  }

  get readingPaused(): boolean {
    return this.#holds !== 0;
  }

  #hold(reason: number): void {
    if (this.#holds === 0) this.socket.pause();
    this.#holds |= reason;
  }

  #release(reason: number): void {
    if ((this.#holds & reason) === 0) return;
    this.#holds &= ~reason;
    if (this.#holds === 0 && this.phase !== 'closed') this.socket.resume();
  }

  /** The call's write buffer is full (v1 stops reading the socket; v2 withholds credit instead). */
  protected holdForCall(): void {
    this.#hold(HOLD_CALL);
  }

  protected releaseForCall(): void {
    this.#release(HOLD_CALL);
  }

  /** Sends one frame (text, or v2's binary); past the high-water mark, stops reading the calls (and, v2, the socket). */
  protected sendText(data: string | Uint8Array, isMessage = false): void {
    if (this.phase === 'closed') return;
    this.#framesOut += 1;
    if (isMessage) this.#messagesOut += 1;
    this.#lastActivity = this.clock.now();
    this.socket.send(data);
    if (this.callsPaused || this.socket.bufferedAmount <= this.limits.socketHighWaterMark) return;
    // The client reads slower than we answer: HTTP/2 flow control holds the servers back, and what
    // is queued stays within one frame of the mark.
    this.callsPaused = true;
    for (const stream of this.streams.values()) stream.pause();
    if (!this.holdsReadingOverMark) return;
    this.#hold(HOLD_OUTPUT);
    const timeoutMs = this.limits.slowReaderTimeoutMs;
    if (timeoutMs > 0)
      this.#slowReaderTimer = this.clock.setTimeout(() => {
        this.#slowReaderTimer = undefined;
        this.closeForPolicy(
          StatusCode.RESOURCE_EXHAUSTED,
          `client did not read its frames for ${Math.round(timeoutMs / 1000)} s`,
        );
      }, timeoutMs);
  }

  #stopSlowReaderTimer(): void {
    if (this.#slowReaderTimer !== undefined) this.clock.clearTimeout(this.#slowReaderTimer);
    this.#slowReaderTimer = undefined;
  }

  /**
   * An error frame for a rejected frame. `counts`: against the socket's budget (a frame racing its
   * stream's status, or a refused open while draining, does not); the budget spent closes with 1008.
   */
  protected reject(text: string, reason: Reason, counts = true): void {
    if (this.phase === 'closed') return;
    this.hooks.onRejected?.(reason);
    this.sendText(text);
    if (counts && reason !== 'rate_limited') this.spendRejection();
    else if (counts) this.rejected += 1;
  }

  /** One more rejection on the socket's budget; the budget spent closes with 1008. */
  protected spendRejection(): void {
    if (this.phase === 'closed') return;
    this.rejected += 1;
    if (
      this.rejected >= this.limits.maxSocketRejections &&
      (this.phase === 'open' || this.rejectionsCloseWhileDraining)
    )
      this.closeForPolicy(StatusCode.INVALID_ARGUMENT, `too many rejected frames (${this.rejected})`);
  }

  /** Charges one frame to the rate (read-throttle.ts); false when the connection was closed for flooding. */
  #chargeRate(): boolean {
    if (this.#throttle.charge(this.#lastActivity)) return true;
    const message = `more than ${this.limits.rateLimit} frames/s for ${this.limits.floodGraceMs} ms`;
    this.reject(this.socketErrorText('rate_limited', message), 'rate_limited' as Reason);
    this.closeForPolicy(StatusCode.RESOURCE_EXHAUSTED, 'rate limit exceeded');
    return false;
  }

  /** A stream's status was sent (or the socket is gone): forget it. */
  protected streamFinished(stream: Stream, status: CallStatus): void {
    if (this.streams.get(stream.id) !== stream) return;
    this.streams.delete(stream.id);
    this.afterStreamFinished(stream, status);
  }

  /** Ends every stream with `status`, then closes the socket as `ending` says. */
  protected end(status: CallStatus, ending: Ending): void {
    if (this.phase === 'closed') return;
    this.#ending = ending;
    this.#endStatus = status;
    for (const stream of [...this.streams.values()]) stream.abort(status);
    this.closeSocket(ending, status);
  }

  /** The ending set by `end` when the gateway is ending the connection, else `otherwise`. */
  protected endingOr(otherwise: Ending): Ending {
    return this.#ending ?? otherwise;
  }

  protected closeSocket(ending: Ending, status?: CallStatus): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.#stopSlowReaderTimer();
    this.#throttle.stop();
    // The close handshake needs the client's Close frame read: never leave the socket paused.
    if (this.#holds !== 0) {
      this.#holds = 0;
      this.socket.resume();
    }
    this.socket.close(ending.code, truncateCloseReason(ending.reason));
    this.#finished(ending.code, ending.cause, status ?? this.#endStatus ?? gatewayStatus(StatusCode.OK, ''));
  }

  #finished(closeCode: number, cause: ConnectionOutcome['cause'], status: CallStatus): void {
    this.hooks.onFinished({
      closeCode,
      cause,
      framesIn: this.framesIn,
      framesOut: this.#framesOut,
      messagesOut: this.#messagesOut,
      rejected: this.rejected,
      streams: this.streamsOpened,
      status,
    });
  }

  // The socket's events and the registry's controls (ConnectionMachine).

  onClientText(text: string): void {
    if (this.phase === 'closed') return;
    this.framesIn += 1;
    this.#lastActivity = this.clock.now();
    if (this.#chargeRate()) this.onFrame(text);
  }

  onClientBinary(data: Uint8Array): void {
    if (this.phase === 'closed') return;
    this.framesIn += 1;
    this.#lastActivity = this.clock.now();
    if (this.#chargeRate()) this.onBinaryFrame(data);
  }

  /** One binary frame, charged to the rate already: refused, unless the profile reads them (v2's binary encoding). */
  protected onBinaryFrame(_data: Uint8Array): void {
    const message = 'binary frames are not part of the protocol: send JSON text frames';
    this.reject(this.socketErrorText('binary_frame', message), 'binary_frame' as Reason);
  }

  onClientGone(): void {
    if (this.phase === 'closed') return;
    // Closed first: the last stream ending while draining must not finish the connection a second time.
    this.phase = 'closed';
    this.#stopSlowReaderTimer();
    this.#throttle.stop();
    for (const stream of [...this.streams.values()]) stream.abort(CLIENT_GONE, true);
    this.#finished(0, 'client_closed', CLIENT_GONE);
  }

  onSocketDrain(): void {
    if (
      !this.callsPaused ||
      this.phase === 'closed' ||
      this.socket.bufferedAmount > this.limits.socketHighWaterMark
    )
      return;
    this.callsPaused = false;
    this.#stopSlowReaderTimer();
    this.#release(HOLD_OUTPUT);
    for (const stream of this.streams.values()) stream.resume();
  }

  beginShutdown(): void {
    if (this.phase !== 'open') return;
    this.phase = 'draining';
    for (const stream of [...this.streams.values()]) stream.beginShutdown();
    if (this.streams.size === 0) this.closeSocket(SHUTDOWN_ENDING);
  }

  forceShutdown(): void {
    this.end(gatewayStatus(StatusCode.UNAVAILABLE, 'gateway shutting down'), SHUTDOWN_ENDING);
  }

  closeForTimeout(message: string): void {
    this.end(gatewayStatus(StatusCode.DEADLINE_EXCEEDED, message), this.timeoutEnding(message));
  }

  endStreamsOpenedBefore(cutoff: number, message: string): void {
    if (this.phase === 'closed') return;
    for (const stream of [...this.streams.values()])
      if (stream.openedAt < cutoff) stream.abort(gatewayStatus(StatusCode.DEADLINE_EXCEEDED, message));
  }

  closeForPolicy(code: StatusCode, message: string): void {
    this.end(gatewayStatus(code, this.policyStatusMessage(message)), {
      code: CloseCode.POLICY_VIOLATION,
      reason: message,
      cause: 'policy',
    });
  }

  fail(): void {
    this.end(gatewayStatus(StatusCode.INTERNAL, 'gateway fault'), {
      code: CloseCode.INTERNAL_ERROR,
      reason: 'gateway fault',
      cause: 'fault',
    });
  }
}
