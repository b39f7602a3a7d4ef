/**
 * One WebSocket ⇄ one RouteChat call. The relay owns both directions of one connection and nothing
 * else: it knows neither HTTP, nor ws, nor grpc-js, only the two small interfaces below, so each
 * rule ("what happens if X arrives in state Y") has one answer in one place.
 */
import {
  type CallStatus,
  CloseCode,
  closeCodeForStatus,
  closeReasonForStatus,
  type ErrorFrame,
  errorFrame,
  type FrameLimits,
  type NoteFrame,
  parseClientFrame,
  type RejectReason,
  type RouteNoteJson,
  StatusCode,
  type StatusFrame,
  truncateCloseReason,
} from '../protocol/index.js';
import { gatewayStatus } from './core-status.js';
import { createReadThrottle } from './read-throttle.js';
import { type Clock, systemClock } from './session/ports.js';

/** The client side, as the relay needs it (ws's WebSocket satisfies it). */
export interface RelaySocket {
  readonly bufferedAmount: number;
  send(text: string): void;
  close(code: number, reason: string): void;
  pause(): void;
  resume(): void;
}

/** The upstream RouteChat call, as the relay needs it. */
export interface RelayCall {
  /** false when the call's write buffer is full: wait for `onCallDrain`. */
  write(note: RouteNoteJson): boolean;
  /** Half-close: the client has finished sending. */
  end(): void;
  cancel(): void;
  pause(): void;
  resume(): void;
}

export interface RelayLimits {
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

export interface RelayOutcome {
  readonly status: CallStatus;
  readonly closeCode: number;
  readonly framesIn: number;
  readonly framesOut: number;
  readonly rejected: number;
  /** Who ended it: the call's own status, the client going away, policy, or shutdown. */
  readonly cause: 'status' | 'client_closed' | 'policy' | 'shutdown' | 'timeout' | 'fault';
}

/** Time, injectable for tests. */
/** Time, injectable for tests (the same as v2's). */
export type RelayClock = Clock;

export interface RelayHooks {
  onRejected?(reason: RejectReason): void;
  onNoteForwarded?(): void;
  /** Seconds from a note's arrival to its hand-off to the other side (only when given). */
  onRelayLatency?(seconds: number): void;
  onFinished(outcome: RelayOutcome): void;
}

type RelayState =
  /** Both directions open. */
  | { readonly name: 'open' }
  /** The client sent `end`; the server may still send. */
  | { readonly name: 'half-closed' }
  /** The gateway is shutting down: the call was half-closed for the client; waiting for its status. */
  | { readonly name: 'draining' }
  /** The status was sent, or the socket is gone. Nothing more happens. */
  | { readonly name: 'closed' };

export interface Relay {
  readonly state: RelayState['name'];
  onClientText(text: string): void;
  onClientBinary(): void;
  /** The socket closed (any reason) or errored: cancel the call if it is still running. */
  onClientGone(): void;
  onCallNote(note: NoteFrame): void;
  onCallReadEnd(): void;
  onCallStatus(status: CallStatus): void;
  onCallDrain(): void;
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

export function createRelay(
  socket: RelaySocket,
  call: RelayCall,
  limits: RelayLimits,
  hooks: RelayHooks,
  clock: RelayClock = systemClock,
): Relay {
  let state: RelayState = { name: 'open' };
  let lastActivity = clock.now();
  const throttle = createReadThrottle(
    limits,
    clock,
    () => socket.pause(),
    () => {
      if (state.name !== 'closed' && !socketPausedForCall) socket.resume();
    },
  );
  let framesIn = 0;
  let framesOut = 0;
  let rejected = 0;
  let readEnded = false;
  let pendingStatus: CallStatus | undefined;
  let socketPausedForCall = false;
  let callPausedForSocket = false;
  let shuttingDown = false;

  const finish = (status: CallStatus, closeCode: number, reason: string, cause: RelayOutcome['cause']) => {
    if (state.name === 'closed') return;
    state = { name: 'closed' };
    // The close handshake needs the client's Close frame read: never leave the socket paused.
    if (throttle.stop() || socketPausedForCall) {
      socketPausedForCall = false;
      socket.resume();
    }
    const frame: StatusFrame = {
      type: 'status',
      code: status.code,
      name: status.name,
      message: status.message,
      metadata: { ...status.metadata },
    };
    socket.send(JSON.stringify(frame));
    socket.close(closeCode, truncateCloseReason(reason));
    hooks.onFinished({ status, closeCode, framesIn, framesOut, rejected, cause });
  };

  /** Charges one frame to the rate (read-throttle.ts); false when the connection was closed for flooding. */
  const chargeRate = (now: number): boolean => {
    if (throttle.charge(now)) return true;
    reject(
      errorFrame('rate_limited', `more than ${limits.rateLimit} frames/s for ${limits.floodGraceMs} ms`),
    );
    closeForPolicy(StatusCode.RESOURCE_EXHAUSTED, 'rate limit exceeded');
    return false;
  };

  const maybeFinishWithCallStatus = () => {
    if (!pendingStatus || !readEnded) return;
    const status = pendingStatus;
    const closeCode = shuttingDown ? CloseCode.GOING_AWAY : closeCodeForStatus(status.code);
    const reason = shuttingDown ? 'gateway shutting down' : closeReasonForStatus(status.code);
    finish(status, closeCode, reason, shuttingDown ? 'shutdown' : 'status');
  };

  function closeForPolicy(code: StatusCode, message: string) {
    if (state.name === 'closed') return;
    call.cancel();
    finish(gatewayStatus(code, message), CloseCode.POLICY_VIOLATION, message, 'policy');
  }

  function reject(error: ErrorFrame) {
    if (state.name === 'closed') return;
    rejected += 1;
    hooks.onRejected?.(error.reason);
    socket.send(JSON.stringify(error));
    // Notes refused while the gateway drains are no fault of the client: closing for policy then
    // would cancel the call and lose the notes already accepted, and tell the client it misbehaved.
    if (
      rejected >= limits.maxRejectedFrames &&
      error.reason !== 'rate_limited' &&
      state.name !== 'draining'
    ) {
      closeForPolicy(StatusCode.INVALID_ARGUMENT, `too many rejected frames (${rejected})`);
    }
  }

  return {
    get state() {
      return state.name;
    },
    get lastActivity() {
      return lastActivity;
    },
    get readingPaused() {
      return socketPausedForCall || throttle.paused;
    },

    onClientText(text) {
      if (state.name === 'closed') return;
      framesIn += 1;
      lastActivity = clock.now();
      if (!chargeRate(lastActivity)) return;
      const parsed = parseClientFrame(text, limits.frame);
      if (parsed.kind === 'rejected') return reject(parsed.error);
      if (state.name !== 'open') {
        const why =
          state.name === 'draining' ? 'the gateway is shutting down' : 'the client already sent "end"';
        return reject(errorFrame('after_end', `frame not accepted: ${why}`));
      }
      if (parsed.kind === 'end') {
        state = { name: 'half-closed' };
        call.end();
        return;
      }
      hooks.onNoteForwarded?.();
      const accepted = call.write(parsed.note);
      if (hooks.onRelayLatency) hooks.onRelayLatency((clock.now() - lastActivity) / 1000);
      if (!accepted && !socketPausedForCall) {
        // The call's write buffer is full: stop reading the socket until it drains.
        socketPausedForCall = true;
        socket.pause();
      }
    },

    onClientBinary() {
      if (state.name === 'closed') return;
      framesIn += 1;
      lastActivity = clock.now();
      if (!chargeRate(lastActivity)) return;
      reject(errorFrame('binary_frame', 'binary frames are not part of the protocol: send JSON text frames'));
    },

    onClientGone() {
      if (state.name === 'closed') return;
      state = { name: 'closed' };
      throttle.stop();
      call.cancel();
      hooks.onFinished({
        status: gatewayStatus(StatusCode.CANCELLED, 'client closed the connection'),
        closeCode: 0,
        framesIn,
        framesOut,
        rejected,
        cause: 'client_closed',
      });
    },

    onCallNote(note) {
      if (state.name === 'closed') return;
      framesOut += 1;
      lastActivity = clock.now();
      socket.send(JSON.stringify(note));
      if (hooks.onRelayLatency) hooks.onRelayLatency((clock.now() - lastActivity) / 1000);
      if (!callPausedForSocket && socket.bufferedAmount > limits.socketHighWaterMark) {
        // The client reads slower than the server sends: stop reading the call; HTTP/2 flow
        // control then holds the server back, and our memory stays bounded.
        callPausedForSocket = true;
        call.pause();
      }
    },

    onCallReadEnd() {
      readEnded = true;
      maybeFinishWithCallStatus();
    },

    onCallStatus(status) {
      if (state.name === 'closed' || pendingStatus) return;
      pendingStatus = status;
      maybeFinishWithCallStatus();
    },

    onCallDrain() {
      if (socketPausedForCall && state.name !== 'closed') {
        socketPausedForCall = false;
        if (!throttle.paused) socket.resume();
      }
    },

    onSocketDrain() {
      if (
        callPausedForSocket &&
        state.name !== 'closed' &&
        socket.bufferedAmount <= limits.socketHighWaterMark
      ) {
        callPausedForSocket = false;
        call.resume();
      }
    },

    beginShutdown() {
      if (state.name === 'closed' || shuttingDown) return;
      shuttingDown = true;
      if (state.name === 'open') call.end();
      state = { name: 'draining' };
      maybeFinishWithCallStatus();
    },

    forceShutdown() {
      if (state.name === 'closed') return;
      call.cancel();
      finish(
        gatewayStatus(StatusCode.UNAVAILABLE, 'gateway shutting down'),
        CloseCode.GOING_AWAY,
        'gateway shutting down',
        'shutdown',
      );
    },

    closeForPolicy,

    fail() {
      if (state.name === 'closed') return;
      call.cancel();
      finish(
        gatewayStatus(StatusCode.INTERNAL, 'gateway fault'),
        CloseCode.INTERNAL_ERROR,
        'gateway fault',
        'fault',
      );
    },

    closeForTimeout(message) {
      if (state.name === 'closed') return;
      call.cancel();
      const status = gatewayStatus(StatusCode.DEADLINE_EXCEEDED, message);
      finish(status, closeCodeForStatus(status.code), closeReasonForStatus(status.code), 'timeout');
    },
  };
}
