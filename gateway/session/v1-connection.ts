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
  type StatusFrame,
  truncateCloseReason,
} from '../../protocol/index.js';
import type { ServerFrameV2 } from '../../protocol/v2/index.js';
import { gatewayStatus } from '../core-status.js';
import type { MethodInfo } from '../methods/method-registry.js';
import { createReadThrottle } from '../read-throttle.js';
import type { CallOpener, Clock, ConnectionSocket } from './ports.js';
import { systemClock } from './ports.js';
import { createStream, type Stream } from './stream.js';

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

export interface V1Connection {
  readonly state: 'open' | 'half-closed' | 'draining' | 'closed';
  onClientText(text: string): void;
  onClientBinary(): void;
  /** The socket closed (any reason) or errored: cancel the call if it is still running. */
  onClientGone(): void;
  onSocketDrain(): void;
  /** Graceful shutdown: half-close the call, finish with 1001 when its status comes. */
  beginShutdown(): void;
  /** Grace period over: cancel the call, send UNAVAILABLE and close 1001. */
  forceShutdown(): void;
  /** Close for a policy reason (e.g. flooding): status frame, cancel, close 1008. */
  closeForPolicy(code: StatusCode, message: string): void;
  /** An unexpected fault in the gateway: cancel the call, status INTERNAL, close 1011. */
  fail(): void;
  /** Ends the call for a timeout (idle, lifetime): status DEADLINE_EXCEEDED, close 4004. */
  closeForTimeout(message: string): void;
  /** When a frame last went either way (clock ms), for the idle sweep. */
  readonly lastActivity: number;
  /** The gateway itself has stopped reading the socket (backpressure or rate): pongs wait too. */
  readonly readingPaused: boolean;
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
  let closed = false;
  let shuttingDown = false;
  /** Set by whoever ends the stream on the gateway's side, before the stream sends its status. */
  let ending: Ending | undefined;
  let lastActivity = clock.now();
  let framesIn = 0;
  let framesOut = 0;
  let rejected = 0;
  let socketPausedForCall = false;
  let callPausedForSocket = false;
  const throttle = createReadThrottle(
    limits,
    clock,
    () => socket.pause(),
    () => {
      if (!closed && !socketPausedForCall) socket.resume();
    },
  );

  const outcome = (status: CallStatus, closeCode: number, cause: V1Outcome['cause']): V1Outcome => ({
    status,
    closeCode,
    framesIn,
    framesOut,
    rejected,
    cause,
  });

  /** A note from the core: v1's frame is the note itself. */
  const sendNote = (note: JsonValue) => {
    if (closed) return;
    framesOut += 1;
    lastActivity = clock.now();
    socket.send(JSON.stringify(note));
    hooks.onRelayLatency?.((clock.now() - lastActivity) / 1000);
    if (!callPausedForSocket && socket.bufferedAmount > limits.socketHighWaterMark) {
      // The client reads slower than the server sends: stop reading the call; HTTP/2 flow
      // control then holds the server back, and our memory stays bounded.
      callPausedForSocket = true;
      stream.pause();
    }
  };

  const sendFrame = (frame: ServerFrameV2) => {
    if (closed) return;
    if (frame.type === 'status') {
      const status: StatusFrame = {
        type: 'status',
        code: frame.code,
        name: frame.name,
        message: frame.message,
        metadata: frame.metadata,
      };
      // The close handshake needs the client's Close frame read: never leave the socket paused.
      if (throttle.stop() || socketPausedForCall) {
        socketPausedForCall = false;
        socket.resume();
      }
      socket.send(JSON.stringify(status));
    } else if (frame.type === 'error') {
      reject(errorFrame(toV1Reason(frame.reason), frame.message, frame.details as ErrorDetail[]));
    }
    // Credit frames: v1 has none (its stream has unlimited credit; the socket is paused instead);
    // message frames come through sendNote.
  };

  const finished = (status: CallStatus) => {
    if (closed) return;
    closed = true;
    const end: Ending =
      ending ??
      (shuttingDown
        ? { code: CloseCode.GOING_AWAY, reason: 'gateway shutting down', cause: 'shutdown' }
        : {
            code: closeCodeForStatus(status.code),
            reason: closeReasonForStatus(status.code),
            cause: 'status',
          });
    socket.close(end.code, truncateCloseReason(end.reason));
    hooks.onFinished(outcome(status, end.code, end.cause));
  };

  const stream: Stream = createStream(
    '',
    deps.method,
    (handlers) => deps.upstream.open(deps.method, deps.metadata, {}, handlers),
    {
      send: sendFrame,
      sendMessage: sendNote,
      finished: (_stream, status) => finished(status),
      // A full call write buffer pauses the socket until the call drains.
      callBlocked() {
        if (socketPausedForCall) return;
        socketPausedForCall = true;
        socket.pause();
      },
      callDrained() {
        if (!socketPausedForCall || closed) return;
        socketPausedForCall = false;
        if (!throttle.paused) socket.resume();
      },
    },
    // No credit frames and no per-stream rejection limit: v1 counts rejections per socket, below.
    { initialCredit: Number.POSITIVE_INFINITY, maxRejections: Number.POSITIVE_INFINITY },
  );

  /** Ends the stream from the gateway's side: the status goes out, then the socket closes as `end` says. */
  const endStream = (status: CallStatus, end: Ending) => {
    if (closed) return;
    ending = end;
    stream.abort(status);
  };

  function closeForPolicy(code: StatusCode, message: string) {
    endStream(gatewayStatus(code, message), {
      code: CloseCode.POLICY_VIOLATION,
      reason: message,
      cause: 'policy',
    });
  }

  function reject(error: ErrorFrame) {
    if (closed) return;
    rejected += 1;
    hooks.onRejected?.(error.reason);
    socket.send(JSON.stringify(error));
    // Notes refused while the gateway drains are no fault of the client: closing for policy then
    // would cancel the call and lose the notes already accepted, and tell the client it misbehaved.
    if (rejected >= limits.maxRejectedFrames && error.reason !== 'rate_limited' && !shuttingDown)
      closeForPolicy(StatusCode.INVALID_ARGUMENT, `too many rejected frames (${rejected})`);
  }

  /** Charges one frame to the rate (read-throttle.ts); false when the connection was closed for flooding. */
  const chargeRate = (now: number): boolean => {
    if (throttle.charge(now)) return true;
    reject(
      errorFrame('rate_limited', `more than ${limits.rateLimit} frames/s for ${limits.floodGraceMs} ms`),
    );
    closeForPolicy(StatusCode.RESOURCE_EXHAUSTED, 'rate limit exceeded');
    return false;
  };

  return {
    get state() {
      if (closed) return 'closed';
      if (shuttingDown) return 'draining';
      return stream.state === 'open' ? 'open' : 'half-closed';
    },
    get lastActivity() {
      return lastActivity;
    },
    get readingPaused() {
      return socketPausedForCall || throttle.paused;
    },

    onClientText(text) {
      if (closed) return;
      framesIn += 1;
      lastActivity = clock.now();
      if (!chargeRate(lastActivity)) return;
      const parsed = parseClientFrame(text, limits.frame);
      if (parsed.kind === 'rejected') return reject(parsed.error);
      if (shuttingDown || stream.state !== 'open') {
        const why = shuttingDown ? 'the gateway is shutting down' : 'the client already sent "end"';
        return reject(errorFrame('after_end', `frame not accepted: ${why}`));
      }
      if (parsed.kind === 'end') return stream.onClientEnd();
      hooks.onNoteForwarded?.();
      stream.onClientMessage(parsed.note);
      hooks.onRelayLatency?.((clock.now() - lastActivity) / 1000);
    },

    onClientBinary() {
      if (closed) return;
      framesIn += 1;
      lastActivity = clock.now();
      if (!chargeRate(lastActivity)) return;
      reject(errorFrame('binary_frame', 'binary frames are not part of the protocol: send JSON text frames'));
    },

    onClientGone() {
      if (closed) return;
      closed = true;
      throttle.stop();
      const status = gatewayStatus(StatusCode.CANCELLED, 'client closed the connection');
      stream.abort(status, true);
      hooks.onFinished(outcome(status, 0, 'client_closed'));
    },

    onSocketDrain() {
      if (callPausedForSocket && !closed && socket.bufferedAmount <= limits.socketHighWaterMark) {
        callPausedForSocket = false;
        stream.resume();
      }
    },

    beginShutdown() {
      if (closed || shuttingDown) return;
      shuttingDown = true;
      stream.beginShutdown();
    },

    forceShutdown() {
      endStream(gatewayStatus(StatusCode.UNAVAILABLE, 'gateway shutting down'), {
        code: CloseCode.GOING_AWAY,
        reason: 'gateway shutting down',
        cause: 'shutdown',
      });
    },

    closeForPolicy,

    fail() {
      endStream(gatewayStatus(StatusCode.INTERNAL, 'gateway fault'), {
        code: CloseCode.INTERNAL_ERROR,
        reason: 'gateway fault',
        cause: 'fault',
      });
    },

    closeForTimeout(message) {
      endStream(gatewayStatus(StatusCode.DEADLINE_EXCEEDED, message), {
        code: closeCodeForStatus(StatusCode.DEADLINE_EXCEEDED),
        reason: closeReasonForStatus(StatusCode.DEADLINE_EXCEEDED),
        cause: 'timeout',
      });
    },
  };
}
