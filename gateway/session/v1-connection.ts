/**
 * Protocol v1 as a profile over one stream: the socket is one RouteChat call, opened with the socket.
 * The call's state machine is v2's (stream.ts); this module is only what v1 says differently on the
 * wire: its frames (a bare note, `end`, error frames without `id`), rejections counted per socket,
 * the status closing the socket (4000 + code, 1001 at shutdown), and backpressure by pausing the
 * socket instead of credit frames.
 */
import type { JsonValue } from '@bufbuild/protobuf';
import {
  type CallStatus,
  CloseCode,
  closeCodeForStatus,
  closeReasonForStatus,
  type ErrorDetail,
  type ErrorFrame,
  errorFrame,
  type FrameLimits,
  parseClientFrame,
  REJECT_REASONS,
  type RejectReason,
  StatusCode,
  truncateCloseReason,
} from '../../protocol/index.js';
import type { ServerFrameV2 } from '../../protocol/v2/index.js';
import type { MethodInfo } from '../methods/method-registry.js';
import type { CallOpener } from '../upstream/calls.js';
import { gatewayStatus } from '../upstream/core-status.js';
import type { Clock, ConnectionMachine, ConnectionSocket } from './ports.js';
import { systemClock } from './ports.js';
import { createReadThrottle, type ReadThrottle } from './read-throttle.js';
import { createStream, type Stream, type StreamSink } from './stream.js';

export interface V1Limits {
  readonly frame: FrameLimits;
  /** Frames per second a client may send (0: unlimited); over it, the socket is paused. */
  readonly rateLimit: number;
  readonly rateBurst: number;
  /** Sending at or above the rate for this long is a flood: error frame, status, close 1008. */
  readonly floodGraceMs: number;
  /** Rejected frames tolerated before the connection is closed with 1008. */
  readonly maxRejectedFrames: number;
  /** Pause the call's reads while the socket has more than this many bytes queued. */
  readonly socketHighWaterMark: number;
}

export interface V1Outcome {
  readonly status: CallStatus;
  readonly closeCode: number;
  readonly framesIn: number;
  /** Notes sent to the client. */
  readonly framesOut: number;
  readonly rejected: number;
  /** Who ended it: the call's own status, the client going away, policy, or shutdown. */
  readonly cause: 'status' | 'client_closed' | 'policy' | 'shutdown' | 'timeout' | 'fault';
}

export interface V1Hooks {
  onRejected?(reason: RejectReason): void;
  onNoteForwarded?(): void;
  /** Seconds from a note's arrival to its hand-off to the other side (only when given). */
  onRelayLatency?(seconds: number): void;
  onFinished(outcome: V1Outcome): void;
}

export interface V1Deps {
  /** RouteChat with v1's codec (methods/routechat-v1.ts). */
  readonly method: MethodInfo;
  readonly upstream: CallOpener;
  /** The call's metadata (forwarded headers, the upgrade's token). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** v1's connection machine: the registry's controls with v1's close codes (1001, 4004, 1008, 1011). */
export interface V1Connection extends ConnectionMachine {
  readonly state: 'open' | 'half-closed' | 'draining' | 'closed';
  /** Close for a policy reason (e.g. flooding): status frame, cancel, close 1008. */
  closeForPolicy(code: StatusCode, message: string): void;
}

/** How the socket closes once the status is sent. */
interface Ending {
  readonly code: number;
  readonly reason: string;
  readonly cause: V1Outcome['cause'];
}

/** The stream's own rejections cannot happen on v1 (its frames are checked first); any other reason reads as a bad note. */
const toV1Reason = (reason: string): RejectReason =>
  (REJECT_REASONS as readonly string[]).includes(reason) ? (reason as RejectReason) : 'invalid_note';

export function createV1Connection(
  socket: ConnectionSocket,
  deps: V1Deps,
  limits: V1Limits,
  hooks: V1Hooks,
  clock: Clock = systemClock,
): V1Connection {
  return new V1SocketConnection(socket, deps, limits, hooks, clock);
}

const SHUTDOWN_ENDING: Ending = {
  code: CloseCode.GOING_AWAY,
  reason: 'gateway shutting down',
  cause: 'shutdown',
};

/** A class for the same reason as the stream (stream.ts): one per connection, methods shared. It is its stream's sink. */
class V1SocketConnection implements V1Connection, StreamSink {
  #closed = false;
  #shuttingDown = false;
  /** Set by whoever ends the stream on the gateway's side, before the stream sends its status. */
  #ending: Ending | undefined;
  #lastActivity: number;
  #framesIn = 0;
  #framesOut = 0;
  #rejected = 0;
  #socketPausedForCall = false;
  #callPausedForSocket = false;
  readonly #socket: ConnectionSocket;
  readonly #limits: V1Limits;
  readonly #hooks: V1Hooks;
  readonly #clock: Clock;
  readonly #throttle: ReadThrottle;
  readonly #stream: Stream;

  constructor(socket: ConnectionSocket, deps: V1Deps, limits: V1Limits, hooks: V1Hooks, clock: Clock) {
    this.#socket = socket;
    this.#limits = limits;
    this.#hooks = hooks;
    this.#clock = clock;
    this.#lastActivity = clock.now();
    this.#throttle = createReadThrottle(
      limits,
      clock,
      () => socket.pause(),
      () => {
        if (!this.#closed && !this.#socketPausedForCall) socket.resume();
      },
    );
    this.#stream = createStream(
      '',
      deps.method,
      (handlers) => deps.upstream.open(deps.method, deps.metadata, {}, handlers),
      this,
      // No credit frames and no per-stream rejection limit: v1 counts rejections per socket, below.
      { initialCredit: Number.POSITIVE_INFINITY, maxRejections: Number.POSITIVE_INFINITY },
      this.#lastActivity,
    );
  }

  get state(): V1Connection['state'] {
    if (this.#closed) return 'closed';
    if (this.#shuttingDown) return 'draining';
    return this.#stream.state === 'open' ? 'open' : 'half-closed';
  }

  get lastActivity(): number {
    return this.#lastActivity;
  }

  get readingPaused(): boolean {
    return this.#socketPausedForCall || this.#throttle.paused;
  }

  #outcome(status: CallStatus, closeCode: number, cause: V1Outcome['cause']): V1Outcome {
    return {
      status,
      closeCode,
      framesIn: this.#framesIn,
      framesOut: this.#framesOut,
      rejected: this.#rejected,
      cause,
    };
  }

  // The stream's output (StreamSink).

  /** A note from the core: v1's frame is the note itself. */
  sendMessage(note: JsonValue): void {
    if (this.#closed) return;
    this.#framesOut += 1;
    this.#lastActivity = this.#clock.now();
    this.#socket.send(JSON.stringify(note));
    this.#hooks.onRelayLatency?.((this.#clock.now() - this.#lastActivity) / 1000);
    if (!this.#callPausedForSocket && this.#socket.bufferedAmount > this.#limits.socketHighWaterMark) {
      // The client reads slower than the server sends: stop reading the call; HTTP/2 flow
      // control then holds the server back, and our memory stays bounded.
      this.#callPausedForSocket = true;
      this.#stream.pause();
    }
  }

  send(frame: ServerFrameV2): void {
    if (this.#closed) return;
    if (frame.type === 'status') {
      // v1's status frame is v2's without the stream id.
      const { id: _id, ...status } = frame;
      // The close handshake needs the client's Close frame read: never leave the socket paused.
      if (this.#throttle.stop() || this.#socketPausedForCall) {
        this.#socketPausedForCall = false;
        this.#socket.resume();
      }
      this.#socket.send(JSON.stringify(status));
    } else if (frame.type === 'error') {
      this.#reject(errorFrame(toV1Reason(frame.reason), frame.message, frame.details as ErrorDetail[]));
    }
    // Credit frames: v1 has none (its stream has unlimited credit; the socket is paused instead);
    // message frames come through sendMessage.
  }

  finished(_stream: Stream, status: CallStatus): void {
    if (this.#closed) return;
    this.#closed = true;
    const end: Ending =
      this.#ending ??
      (this.#shuttingDown
        ? SHUTDOWN_ENDING
        : {
            code: closeCodeForStatus(status.code),
            reason: closeReasonForStatus(status.code),
            cause: 'status',
          });
    this.#socket.close(end.code, truncateCloseReason(end.reason));
    this.#hooks.onFinished(this.#outcome(status, end.code, end.cause));
  }

  /** A full call write buffer pauses the socket until the call drains. */
  callBlocked(): void {
    if (this.#socketPausedForCall) return;
    this.#socketPausedForCall = true;
    this.#socket.pause();
  }

  callDrained(): void {
    if (!this.#socketPausedForCall || this.#closed) return;
    this.#socketPausedForCall = false;
    if (!this.#throttle.paused) this.#socket.resume();
  }

  /** Ends the stream from the gateway's side: the status goes out, then the socket closes as `end` says. */
  #endStream(status: CallStatus, end: Ending): void {
    if (this.#closed) return;
    this.#ending = end;
    this.#stream.abort(status);
  }

  #reject(error: ErrorFrame): void {
    if (this.#closed) return;
    this.#rejected += 1;
    this.#hooks.onRejected?.(error.reason);
    this.#socket.send(JSON.stringify(error));
    // Notes refused while the gateway drains are no fault of the client: closing for policy then
    // would cancel the call and lose the notes already accepted, and tell the client it misbehaved.
    if (
      this.#rejected >= this.#limits.maxRejectedFrames &&
      error.reason !== 'rate_limited' &&
      !this.#shuttingDown
    )
      this.closeForPolicy(StatusCode.INVALID_ARGUMENT, `too many rejected frames (${this.#rejected})`);
  }

  /** Charges one frame to the rate (read-throttle.ts); false when the connection was closed for flooding. */
  #chargeRate(now: number): boolean {
    if (this.#throttle.charge(now)) return true;
    this.#reject(
      errorFrame(
        'rate_limited',
        `more than ${this.#limits.rateLimit} frames/s for ${this.#limits.floodGraceMs} ms`,
      ),
    );
    this.closeForPolicy(StatusCode.RESOURCE_EXHAUSTED, 'rate limit exceeded');
    return false;
  }

  // The socket's events and the registry's controls (V1Connection).

  onClientText(text: string): void {
    if (this.#closed) return;
    this.#framesIn += 1;
    this.#lastActivity = this.#clock.now();
    if (!this.#chargeRate(this.#lastActivity)) return;
    const parsed = parseClientFrame(text, this.#limits.frame);
    if (parsed.kind === 'rejected') {
      this.#reject(parsed.error);
      return;
    }
    if (this.#shuttingDown || this.#stream.state !== 'open') {
      const why = this.#shuttingDown ? 'the gateway is shutting down' : 'the client already sent "end"';
      this.#reject(errorFrame('after_end', `frame not accepted: ${why}`));
      return;
    }
    if (parsed.kind === 'end') {
      this.#stream.onClientEnd();
      return;
    }
    this.#hooks.onNoteForwarded?.();
    this.#stream.onClientMessage(parsed.note);
    this.#hooks.onRelayLatency?.((this.#clock.now() - this.#lastActivity) / 1000);
  }

  onClientBinary(): void {
    if (this.#closed) return;
    this.#framesIn += 1;
    this.#lastActivity = this.#clock.now();
    if (!this.#chargeRate(this.#lastActivity)) return;
    this.#reject(
      errorFrame('binary_frame', 'binary frames are not part of the protocol: send JSON text frames'),
    );
  }

  onClientGone(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#throttle.stop();
    const status = gatewayStatus(StatusCode.CANCELLED, 'client closed the connection');
    this.#stream.abort(status, true);
    this.#hooks.onFinished(this.#outcome(status, 0, 'client_closed'));
  }

  onSocketDrain(): void {
    if (
      this.#callPausedForSocket &&
      !this.#closed &&
      this.#socket.bufferedAmount <= this.#limits.socketHighWaterMark
    ) {
      this.#callPausedForSocket = false;
      this.#stream.resume();
    }
  }

  beginShutdown(): void {
    if (this.#closed || this.#shuttingDown) return;
    this.#shuttingDown = true;
    this.#stream.beginShutdown();
  }

  forceShutdown(): void {
    this.#endStream(gatewayStatus(StatusCode.UNAVAILABLE, 'gateway shutting down'), SHUTDOWN_ENDING);
  }

  closeForPolicy(code: StatusCode, message: string): void {
    this.#endStream(gatewayStatus(code, message), {
      code: CloseCode.POLICY_VIOLATION,
      reason: message,
      cause: 'policy',
    });
  }

  fail(): void {
    this.#endStream(gatewayStatus(StatusCode.INTERNAL, 'gateway fault'), {
      code: CloseCode.INTERNAL_ERROR,
      reason: 'gateway fault',
      cause: 'fault',
    });
  }

  endStreamsOpenedBefore(cutoff: number, message: string): void {
    if (this.#stream.openedAt < cutoff) this.closeForTimeout(message);
  }

  closeForTimeout(message: string): void {
    this.#endStream(gatewayStatus(StatusCode.DEADLINE_EXCEEDED, message), {
      code: closeCodeForStatus(StatusCode.DEADLINE_EXCEEDED),
      reason: closeReasonForStatus(StatusCode.DEADLINE_EXCEEDED),
      cause: 'timeout',
    });
  }
}
