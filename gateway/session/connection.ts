/**
 * One v2 WebSocket: parsing, rate, caps, close codes, and routing frames to streams by `id`.
 * Streams are isolated: a stream's bad frames, status or slow call never close the socket or stall
 * the others (the socket is never paused for one call; each stream has its own credit window).
 * The socket itself is paused only for the client's own doing: over its rate, or not reading what
 * it is sent (past the high-water mark nothing more is read from it, so nothing more is answered).
 * Socket close codes are only for the socket: 1000, 1001 shutdown, 1008 policy, 1011 fault.
 */
import {
  type CallStatus,
  CloseCode,
  clipDetailText,
  type FrameLimits,
  StatusCode,
  truncateCloseReason,
} from '../../protocol/index.js';
import {
  type ErrorFrameV2,
  errorFrameV2,
  MESSAGE_FRAME_SUFFIX,
  messageFramePrefix,
  metadataProblems,
  type OpenFrame,
  parseClientFrameV2,
  type ServerFrameV2,
  type V2RejectReason,
} from '../../protocol/v2/index.js';
import type { MethodInfo } from '../methods/method-registry.js';
import { gatewayStatus } from '../upstream/core-status.js';
import {
  type Clock,
  type ConnectionDeps,
  type ConnectionMachine,
  type ConnectionSocket,
  systemClock,
} from './ports.js';
import { createReadThrottle } from './read-throttle.js';
import { createStream, type Stream, type StreamSink } from './stream.js';

export interface ConnectionLimits {
  readonly frame: FrameLimits;
  readonly maxStreams: number;
  readonly initialCredit: number;
  readonly maxStreamRejections: number;
  /** Frames naming no valid stream tolerated before close 1008. */
  readonly maxSocketRejections: number;
  /** Frames per second (0: unlimited); over it the socket is paused; for `floodGraceMs`: 1008. */
  readonly rateLimit: number;
  readonly rateBurst: number;
  readonly floodGraceMs: number;
  /**
   * While the socket has more than this many bytes queued, every call's reads and the socket's own
   * reading are paused: a client that does not read gets nothing more queued, whatever it sends.
   */
  readonly socketHighWaterMark: number;
  /** Over the high-water mark this long (ms) closes the socket with 1008 (0: never). */
  readonly slowReaderTimeoutMs: number;
  /** Open server-streaming calls per socket; one more `open` gets RESOURCE_EXHAUSTED. */
  readonly maxServerStreams: number;
}

export interface ConnectionOutcome {
  readonly closeCode: number;
  readonly cause: 'client_closed' | 'policy' | 'shutdown' | 'timeout' | 'fault';
  readonly framesIn: number;
  readonly framesOut: number;
  readonly streams: number;
  readonly rejected: number;
}

/** A server-streaming call may stay open as long as the server likes: these count against the shares. */
const isServerStream = (method: MethodInfo) => method.responseStream && !method.requestStream;

export interface ConnectionHooks {
  /** An error frame was sent (socket-level or on a stream), with its reason. */
  onRejected?(reason: V2RejectReason): void;
  /** A stream became an upstream call of `method`. */
  onStreamOpened?(method: string): void;
  /**
   * A stream ended with `status`. `opened`: false for an `open` refused at once (no call made);
   * `method` is then the catalog's name, or UNKNOWN_METHOD for a method the catalog does not know.
   */
  onStreamFinished?(method: string, status: CallStatus, opened: boolean): void;
  onFinished(outcome: ConnectionOutcome): void;
}

/** The method label of a refused `open` whose method the catalog does not know (bounded label sets). */
export const UNKNOWN_METHOD = '(unknown)';

export interface Connection extends ConnectionMachine {
  readonly state: 'open' | 'draining' | 'closed';
  readonly streamCount: number;
  closeForPolicy(code: StatusCode, message: string): void;
}

/** Ids of recently finished streams remembered, so a frame racing a status is not held against the client. */
const RECENTLY_FINISHED = 256;

export function createConnection(
  socket: ConnectionSocket,
  deps: ConnectionDeps,
  limits: ConnectionLimits,
  hooks: ConnectionHooks,
  clock: Clock = systemClock,
): Connection {
  const addressServerStreams = deps.addressServerStreams;
  let state: 'open' | 'draining' | 'closed' = 'open';
  const streams = new Map<string, Stream>();
  const recentlyFinished = new Set<string>();
  let lastActivity = clock.now();
  let framesIn = 0;
  let framesOut = 0;
  let streamsOpened = 0;
  let rejected = 0;
  let serverStreams = 0;
  /** The socket is over its high-water mark: calls and the socket's reading are paused. */
  let callsPaused = false;
  let slowReaderTimer: unknown;
  const throttle = createReadThrottle(
    limits,
    clock,
    () => socket.pause(),
    () => {
      if (state !== 'closed' && !callsPaused) socket.resume();
    },
  );

  const sendText = (text: string) => {
    if (state === 'closed') return;
    framesOut += 1;
    lastActivity = clock.now();
    socket.send(text);
    if (!callsPaused && socket.bufferedAmount > limits.socketHighWaterMark) {
      // The client reads slower than we answer: stop reading every call (HTTP/2 flow control holds
      // the servers back) and stop reading the socket, since every frame read may earn an answer
      // (an error, a status, credit). What is queued stays within one frame of the mark.
      callsPaused = true;
      for (const stream of streams.values()) stream.pause();
      if (!throttle.paused) socket.pause();
      if (limits.slowReaderTimeoutMs > 0)
        slowReaderTimer = clock.setTimeout(() => {
          slowReaderTimer = undefined;
          closeForPolicy(
            StatusCode.RESOURCE_EXHAUSTED,
            `client did not read its frames for ${Math.round(limits.slowReaderTimeoutMs / 1000)} s`,
          );
        }, limits.slowReaderTimeoutMs);
    }
  };

  const stopSlowReaderTimer = () => {
    if (slowReaderTimer !== undefined) clock.clearTimeout(slowReaderTimer);
    slowReaderTimer = undefined;
  };

  const send = (frame: ServerFrameV2) => {
    if (state === 'closed') return;
    if (frame.type === 'error') hooks.onRejected?.(frame.reason);
    sendText(JSON.stringify(frame));
  };

  const closeSocket = (code: number, reason: string, cause: ConnectionOutcome['cause']) => {
    if (state === 'closed') return;
    state = 'closed';
    stopSlowReaderTimer();
    // The close handshake needs the client's Close frame read.
    if (throttle.stop() || callsPaused) socket.resume();
    socket.close(code, truncateCloseReason(reason));
    hooks.onFinished({ closeCode: code, cause, framesIn, framesOut, streams: streamsOpened, rejected });
  };

  const finishedStream = (stream: Stream, status: CallStatus) => {
    if (streams.get(stream.id) !== stream) return;
    streams.delete(stream.id);
    if (isServerStream(stream.method)) {
      serverStreams -= 1;
      addressServerStreams?.give();
    }
    recentlyFinished.add(stream.id);
    if (recentlyFinished.size > RECENTLY_FINISHED)
      recentlyFinished.delete(recentlyFinished.values().next().value as string);
    hooks.onStreamFinished?.(stream.method.name, status, true);
    if (state === 'draining' && streams.size === 0)
      closeSocket(CloseCode.GOING_AWAY, 'gateway shutting down', 'shutdown');
  };

  /** Each stream's sink: the shared frame path, and its message frames' prefix made once. */
  const sinkFor = (id: string): StreamSink => {
    const prefix = messageFramePrefix(id);
    return {
      send,
      sendMessage: (message) => sendText(prefix + JSON.stringify(message) + MESSAGE_FRAME_SUFFIX),
      finished: finishedStream,
    };
  };

  /**
   * A stream that ends as it opens: status only (and the error's details first, when any). A refused
   * open is a rejected frame of the socket: it counts against the socket's rejection budget, except
   * while the gateway drains (no fault of the client's).
   */
  const refuseStream = (
    id: string,
    method: string,
    code: StatusCode,
    message: string,
    error?: ErrorFrameV2,
  ) => {
    if (error) send(error);
    const status = gatewayStatus(code, message);
    send({ type: 'status', id, code: status.code, name: status.name, message: status.message, metadata: {} });
    hooks.onStreamFinished?.(method, status, false);
    if (state === 'open') {
      rejected += 1;
      if (rejected >= limits.maxSocketRejections)
        closeForPolicy(StatusCode.INVALID_ARGUMENT, `too many rejected frames (${rejected})`);
    }
  };

  /** `method`'s name when the catalog knows it (allowed or not), else UNKNOWN_METHOD. */
  const methodLabel = (method: string): string => {
    const found = deps.methods.lookup(method);
    if (found.kind === 'found') return found.method.name;
    return found.kind === 'denied' ? method.replace(/^\//, '') : UNKNOWN_METHOD;
  };

  const endAll = (status: CallStatus) => {
    for (const stream of [...streams.values()]) stream.abort(status);
  };

  function closeForPolicy(code: StatusCode, message: string) {
    if (state === 'closed') return;
    endAll(gatewayStatus(code, `connection closed: ${message}`));
    closeSocket(CloseCode.POLICY_VIOLATION, message, 'policy');
  }

  const socketReject = (error: ErrorFrameV2, counts = true) => {
    if (state === 'closed') return;
    if (counts) rejected += 1;
    send(error);
    if (rejected >= limits.maxSocketRejections && error.reason !== 'rate_limited')
      closeForPolicy(StatusCode.INVALID_ARGUMENT, `too many rejected frames (${rejected})`);
  };

  /** Charges one frame to the rate (read-throttle.ts); false when the connection was closed for flooding. */
  const chargeRate = (now: number): boolean => {
    if (throttle.charge(now)) return true;
    socketReject(
      errorFrameV2('rate_limited', `more than ${limits.rateLimit} frames/s for ${limits.floodGraceMs} ms`),
    );
    closeForPolicy(StatusCode.RESOURCE_EXHAUSTED, 'rate limit exceeded');
    return false;
  };

  const open = (frame: OpenFrame) => {
    const { id } = frame;
    if (streams.has(id)) {
      return socketReject(
        errorFrameV2('duplicate_stream', `stream "${id}" is already open`, [
          { path: 'id', message: 'already open' },
        ]),
      );
    }
    if (state === 'draining')
      return refuseStream(id, methodLabel(frame.method), StatusCode.UNAVAILABLE, 'gateway shutting down');
    if (streams.size >= limits.maxStreams)
      return refuseStream(
        id,
        methodLabel(frame.method),
        StatusCode.RESOURCE_EXHAUSTED,
        `more than ${limits.maxStreams} open streams on this socket`,
      );
    const found = deps.methods.lookup(frame.method);
    if (found.kind === 'unknown')
      return refuseStream(id, UNKNOWN_METHOD, StatusCode.UNIMPLEMENTED, `unknown method ${frame.method}`);
    if (found.kind === 'denied')
      return refuseStream(
        id,
        methodLabel(frame.method),
        StatusCode.PERMISSION_DENIED,
        `method ${frame.method} is not allowed here`,
      );
    const method = found.method;
    const metadata = frame.metadata ?? {};
    const problems = metadataProblems(metadata);
    if (problems.length > 0) {
      const first = problems[0];
      const message = `invalid metadata: ${clipDetailText(first?.path ?? '')}: ${clipDetailText(first?.message ?? '')}`;
      return refuseStream(
        id,
        method.name,
        StatusCode.INVALID_ARGUMENT,
        message,
        errorFrameV2('invalid_frame', message, problems, id),
      );
    }
    if (isServerStream(method)) {
      if (serverStreams >= limits.maxServerStreams)
        return refuseStream(
          id,
          method.name,
          StatusCode.RESOURCE_EXHAUSTED,
          `more than ${limits.maxServerStreams} server-streaming calls on this socket`,
        );
      if (addressServerStreams && !addressServerStreams.take())
        return refuseStream(
          id,
          method.name,
          StatusCode.RESOURCE_EXHAUSTED,
          `more than ${addressServerStreams.limit} server-streaming calls from this address`,
        );
      serverStreams += 1;
    }
    recentlyFinished.delete(id);
    streamsOpened += 1;
    const stream = createStream(
      id,
      method,
      (handlers) =>
        deps.upstream.open(
          method,
          { ...metadata, ...deps.baseMetadata },
          frame.timeoutMs === undefined ? {} : { timeoutMs: frame.timeoutMs },
          handlers,
        ),
      sinkFor(id),
      { initialCredit: limits.initialCredit, maxRejections: limits.maxStreamRejections },
      clock.now(),
      callsPaused,
    );
    streams.set(id, stream);
    hooks.onStreamOpened?.(method.name);
  };

  return {
    get state() {
      return state;
    },
    get streamCount() {
      return streams.size;
    },
    get lastActivity() {
      return lastActivity;
    },
    get readingPaused() {
      return throttle.paused || callsPaused;
    },

    onClientText(text) {
      if (state === 'closed') return;
      framesIn += 1;
      lastActivity = clock.now();
      if (!chargeRate(lastActivity)) return;
      const parsed = parseClientFrameV2(text, limits.frame);
      if (parsed.kind === 'rejected') {
        const stream = parsed.id === undefined ? undefined : streams.get(parsed.id);
        if (stream && parsed.type !== 'open')
          return stream.reject(parsed.error.reason, parsed.error.message, parsed.error.details);
        if (parsed.id !== undefined && parsed.type === 'open' && !streams.has(parsed.id))
          return refuseStream(
            parsed.id,
            UNKNOWN_METHOD,
            StatusCode.INVALID_ARGUMENT,
            parsed.error.message,
            parsed.error,
          );
        const { id: _id, ...withoutId } = parsed.error;
        return socketReject(withoutId);
      }
      const frame = parsed.frame;
      if (frame.type === 'open') return open(frame);
      const stream = streams.get(frame.id);
      if (!stream) {
        // A frame racing its stream's status (a cancel crossing the status) is no fault of the client.
        return socketReject(
          errorFrameV2('unknown_stream', `no open stream "${frame.id}"`, [
            { path: 'id', message: 'no such open stream' },
          ]),
          !recentlyFinished.has(frame.id),
        );
      }
      if (frame.type === 'message') stream.onClientMessage(frame.message);
      else if (frame.type === 'end') stream.onClientEnd();
      else stream.onClientCancel();
    },

    onClientBinary() {
      if (state === 'closed') return;
      framesIn += 1;
      lastActivity = clock.now();
      if (!chargeRate(lastActivity)) return;
      socketReject(
        errorFrameV2('binary_frame', 'binary frames are not part of the protocol: send JSON text frames'),
      );
    },

    onClientGone() {
      if (state === 'closed') return;
      // Closed first: the last stream ending while draining must not finish the connection a second time.
      state = 'closed';
      for (const stream of [...streams.values()])
        stream.abort(gatewayStatus(StatusCode.CANCELLED, 'client closed the connection'), true);
      throttle.stop();
      stopSlowReaderTimer();
      hooks.onFinished({
        closeCode: 0,
        cause: 'client_closed',
        framesIn,
        framesOut,
        streams: streamsOpened,
        rejected,
      });
    },

    onSocketDrain() {
      if (!callsPaused || state === 'closed' || socket.bufferedAmount > limits.socketHighWaterMark) return;
      callsPaused = false;
      stopSlowReaderTimer();
      if (!throttle.paused) socket.resume();
      for (const stream of streams.values()) stream.resume();
    },

    beginShutdown() {
      if (state !== 'open') return;
      state = 'draining';
      for (const stream of [...streams.values()]) stream.beginShutdown();
      if (streams.size === 0) closeSocket(CloseCode.GOING_AWAY, 'gateway shutting down', 'shutdown');
    },

    forceShutdown() {
      if (state === 'closed') return;
      endAll(gatewayStatus(StatusCode.UNAVAILABLE, 'gateway shutting down'));
      closeSocket(CloseCode.GOING_AWAY, 'gateway shutting down', 'shutdown');
    },

    closeForTimeout(message) {
      if (state === 'closed') return;
      endAll(gatewayStatus(StatusCode.DEADLINE_EXCEEDED, message));
      closeSocket(CloseCode.NORMAL, message, 'timeout');
    },

    endStreamsOpenedBefore(cutoff, message) {
      if (state === 'closed') return;
      for (const stream of [...streams.values()])
        if (stream.openedAt < cutoff) stream.abort(gatewayStatus(StatusCode.DEADLINE_EXCEEDED, message));
    },

    closeForPolicy,

    fail() {
      if (state === 'closed') return;
      endAll(gatewayStatus(StatusCode.INTERNAL, 'gateway fault'));
      closeSocket(CloseCode.INTERNAL_ERROR, 'gateway fault', 'fault');
    },
  };
}
