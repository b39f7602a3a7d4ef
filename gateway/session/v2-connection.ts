/**
 * Protocol v2 as a profile of the one socket connection (connection.ts): many streams on one socket,
 * routed by the client's `id`. What v2 says differently: the `open` frame and its checks (methods,
 * metadata, the stream caps and shares), per-stream errors and credit, a status per stream that
 * never closes the socket, 1000 for a timeout, and, since every frame read may earn an answer,
 * no reading of a socket over its output bound.
 */
import {
  type CallStatus,
  CloseCode,
  clipDetailText,
  NOTE_SESSION_KEY,
  StatusCode,
} from '../../protocol/common/index.js';
import {
  binaryFramePrefix,
  binaryMessageFrame,
  decodeBinaryFrame,
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
import { type ConnectionHooks, type Ending, SocketConnection, type SocketLimits } from './connection.js';
import {
  type Clock,
  type ConnectionDeps,
  type ConnectionMachine,
  type ConnectionSocket,
  systemClock,
} from './ports.js';
import { createStream, type Stream, type StreamSink } from './stream.js';

export interface V2Limits extends SocketLimits {
  readonly maxStreams: number;
  readonly initialCredit: number;
  readonly maxStreamRejections: number;
  /** Open server-streaming calls per socket; one more `open` gets RESOURCE_EXHAUSTED. */
  readonly maxServerStreams: number;
}

/**
 * How messages travel on this socket, chosen by the subprotocol: proto3 JSON in text frames
 * (`gateway.v2`), or protobuf bytes in binary frames (`gateway.v2.binary`, binary-frames.ts).
 */
export type MessageEncoding = 'json' | 'binary';

export interface V2Deps extends ConnectionDeps {
  readonly messageEncoding?: MessageEncoding;
}

export interface V2Hooks extends ConnectionHooks<V2RejectReason> {
  /** A stream became an upstream call of `method`. */
  onStreamOpened?(method: string): void;
  /**
   * A stream ended with `status`. `opened`: false for an `open` refused at once (no call made);
   * `method` is then the catalog's name, or UNKNOWN_METHOD for a method the catalog does not know.
   */
  onStreamFinished?(method: string, status: CallStatus, opened: boolean): void;
}

/** The method label of a refused `open` whose method the catalog does not know (bounded label sets). */
export const UNKNOWN_METHOD = '(unknown)';

export interface V2Connection extends ConnectionMachine {
  readonly state: 'open' | 'draining' | 'closed';
  readonly streamCount: number;
  closeForPolicy(code: StatusCode, message: string): void;
}

/** Ids of recently finished streams remembered, so a frame racing a status is not held against the client. */
const RECENTLY_FINISHED = 256;

/** A server-streaming call may stay open as long as the server likes: these count against the shares. */
const isServerStream = (method: MethodInfo) => method.responseStream && !method.requestStream;

export function createV2Connection(
  socket: ConnectionSocket,
  deps: V2Deps,
  limits: V2Limits,
  hooks: V2Hooks,
  clock: Clock = systemClock,
): V2Connection {
  return new V2SocketConnection(socket, deps, limits, hooks, clock);
}

class V2SocketConnection extends SocketConnection<V2RejectReason> implements V2Connection {
  protected readonly holdsReadingOverMark = true;
  protected readonly rejectionsCloseWhileDraining = true;
  readonly #recentlyFinished = new Set<string>();
  #serverStreams = 0;
  readonly #deps: ConnectionDeps;
  readonly #binary: boolean;
  // The base class holds them; these only narrow their types to v2's.
  declare protected readonly limits: V2Limits;
  declare protected readonly hooks: V2Hooks;

  constructor(socket: ConnectionSocket, deps: V2Deps, limits: V2Limits, hooks: V2Hooks, clock: Clock) {
    super(socket, limits, hooks, clock);
    this.#deps = deps;
    this.#binary = deps.messageEncoding === 'binary';
  }

  override get state(): V2Connection['state'] {
    return this.phase;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  protected socketErrorText(reason: 'binary_frame' | 'rate_limited', message: string): string {
    return JSON.stringify(errorFrameV2(reason, message));
  }

  protected timeoutEnding(message: string): Ending {
    return { code: CloseCode.NORMAL, reason: message, cause: 'timeout' };
  }

  protected override policyStatusMessage(message: string): string {
    return `connection closed: ${message}`;
  }

  protected override afterStreamFinished(stream: Stream, status: CallStatus): void {
    if (isServerStream(stream.method)) {
      this.#serverStreams -= 1;
      this.#deps.addressServerStreams?.give();
    }
    this.#rememberFinished(stream.id);
    this.hooks.onStreamFinished?.(stream.method.name, status, true);
    super.afterStreamFinished(stream, status);
  }

  #rememberFinished(id: string): void {
    this.#recentlyFinished.add(id);
    if (this.#recentlyFinished.size > RECENTLY_FINISHED)
      this.#recentlyFinished.delete(this.#recentlyFinished.values().next().value as string);
  }

  #send(frame: ServerFrameV2): void {
    if (frame.type === 'error') this.hooks.onRejected?.(frame.reason);
    this.sendText(JSON.stringify(frame));
  }

  /** A socket-level error (no stream). */
  #socketReject(error: ErrorFrameV2, counts = true): void {
    this.reject(JSON.stringify(error), error.reason, counts);
  }

  /** Each stream's sink: the shared frame path, and its message frames' prefix made once. */
  #sinkFor(id: string): StreamSink {
    if (this.#binary) {
      const prefix = binaryFramePrefix(id);
      return {
        send: (frame) => this.#send(frame),
        sendMessage: () => {
          throw new Error('a binary socket passes response bytes on (sendMessageBytes)');
        },
        // The core's bytes as they came: no decoding, no encoding.
        sendMessageBytes: (bytes) => this.sendText(binaryMessageFrame(prefix, bytes), true),
        finished: (stream, status) => this.streamFinished(stream, status),
      };
    }
    const prefix = messageFramePrefix(id);
    return {
      send: (frame) => this.#send(frame),
      sendMessage: (message) => this.sendText(prefix + JSON.stringify(message) + MESSAGE_FRAME_SUFFIX, true),
      finished: (stream, status) => this.streamFinished(stream, status),
    };
  }

  /**
   * A stream that ends as it opens: status only (and the error's details first, when any). A refused
   * open counts against the socket's rejection budget, except while the gateway drains (no fault of
   * the client's).
   */
  #refuse(id: string, method: string, code: StatusCode, message: string, error?: ErrorFrameV2): void {
    if (error) this.#send(error);
    const status = gatewayStatus(code, message);
    this.#send({
      type: 'status',
      id,
      code: status.code,
      name: status.name,
      message: status.message,
      metadata: {},
    });
    this.hooks.onStreamFinished?.(method, status, false);
    // The frames the client sent after this open (its request, end) race the status: not its fault.
    this.#rememberFinished(id);
    if (this.phase === 'open') this.spendRejection();
  }

  /** `method`'s name when the catalog knows it (allowed or not), else UNKNOWN_METHOD. */
  #methodLabel(method: string): string {
    const found = this.#deps.methods.lookup(method);
    if (found.kind === 'found') return found.method.name;
    return found.kind === 'denied' ? method.replace(/^\//, '') : UNKNOWN_METHOD;
  }

  protected onFrame(text: string) {
    const parsed = parseClientFrameV2(text, this.limits.frame);
    if (parsed.kind === 'rejected') {
      const stream = parsed.id === undefined ? undefined : this.streams.get(parsed.id);
      if (stream && parsed.type !== 'open')
        return stream.reject(parsed.error.reason, parsed.error.message, parsed.error.details);
      if (parsed.id !== undefined && parsed.type === 'open' && !this.streams.has(parsed.id))
        return this.#refuse(
          parsed.id,
          UNKNOWN_METHOD,
          StatusCode.INVALID_ARGUMENT,
          parsed.error.message,
          parsed.error,
        );
      const { id: _id, ...withoutId } = parsed.error;
      return this.#socketReject(withoutId);
    }
    const frame = parsed.frame;
    if (frame.type === 'open') return this.#open(frame);
    const stream = this.streams.get(frame.id);
    if (!stream) {
      // A frame racing its stream's status (a cancel crossing the status) is no fault of the client.
      return this.#socketReject(
        errorFrameV2('unknown_stream', `no open stream "${frame.id}"`, [
          { path: 'id', message: 'no such open stream' },
        ]),
        !this.#recentlyFinished.has(frame.id),
      );
    }
    if (frame.type === 'message') {
      if (this.#binary)
        return stream.reject('text_message', 'on gateway.v2.binary, messages travel as binary frames', [
          { path: 'message', message: 'send the protobuf bytes in a binary frame' },
        ]);
      stream.onClientMessage(frame.message);
    } else if (frame.type === 'end') stream.onClientEnd();
    else stream.onClientCancel();
  }

  /** A binary message frame (gateway.v2.binary), routed by its id as a text frame is. */
  protected override onBinaryFrame(data: Uint8Array): void {
    if (!this.#binary) {
      super.onBinaryFrame(data);
      return;
    }
    const decoded = decodeBinaryFrame(data);
    if (!decoded.ok) {
      this.#socketReject(
        errorFrameV2('invalid_binary_frame', `invalid binary frame: ${decoded.problem}`, [
          { path: '(frame)', message: decoded.problem },
        ]),
      );
      return;
    }
    const stream = this.streams.get(decoded.id);
    if (stream) stream.onClientMessageBytes(decoded.message);
    else
      this.#socketReject(
        errorFrameV2('unknown_stream', `no open stream "${decoded.id}"`, [
          { path: 'id', message: 'no such open stream' },
        ]),
        !this.#recentlyFinished.has(decoded.id),
      );
  }

  #open(frame: OpenFrame) {
    const { id } = frame;
    if (this.streams.has(id))
      return this.#socketReject(
        errorFrameV2('duplicate_stream', `stream "${id}" is already open`, [
          { path: 'id', message: 'already open' },
        ]),
      );
    const limits = this.limits;
    if (this.phase === 'draining')
      return this.#refuse(
        id,
        this.#methodLabel(frame.method),
        StatusCode.UNAVAILABLE,
        'gateway shutting down',
      );
    if (this.streams.size >= limits.maxStreams)
      return this.#refuse(
        id,
        this.#methodLabel(frame.method),
        StatusCode.RESOURCE_EXHAUSTED,
        `more than ${limits.maxStreams} open streams on this socket`,
      );
    const found = this.#deps.methods.lookup(frame.method);
    if (found.kind === 'unknown')
      return this.#refuse(id, UNKNOWN_METHOD, StatusCode.UNIMPLEMENTED, `unknown method ${frame.method}`);
    if (found.kind === 'denied')
      return this.#refuse(
        id,
        this.#methodLabel(frame.method),
        StatusCode.PERMISSION_DENIED,
        `method ${frame.method} is not allowed here`,
      );
    const method = found.method;
    const metadata = frame.metadata ?? {};
    const problems = metadataProblems(metadata);
    if (problems.length > 0) {
      const first = problems[0];
      const message = `invalid metadata: ${clipDetailText(first?.path ?? '')}: ${clipDetailText(first?.message ?? '')}`;
      return this.#refuse(
        id,
        method.name,
        StatusCode.INVALID_ARGUMENT,
        message,
        errorFrameV2('invalid_frame', message, problems, id),
      );
    }
    if (isServerStream(method)) {
      const share = this.#deps.addressServerStreams;
      if (this.#serverStreams >= limits.maxServerStreams)
        return this.#refuse(
          id,
          method.name,
          StatusCode.RESOURCE_EXHAUSTED,
          `more than ${limits.maxServerStreams} server-streaming calls on this socket`,
        );
      if (share && !share.take())
        return this.#refuse(
          id,
          method.name,
          StatusCode.RESOURCE_EXHAUSTED,
          `more than ${share.limit} server-streaming calls from this address`,
        );
      this.#serverStreams += 1;
    }
    this.#recentlyFinished.delete(id);
    this.streamsOpened += 1;
    const deps = this.#deps;
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
      this.#sinkFor(id),
      {
        initialCredit: limits.initialCredit,
        maxRejections: limits.maxStreamRejections,
        // The core checks the session itself; any value makes the numbering matter.
        numbered: Object.hasOwn(metadata, NOTE_SESSION_KEY),
      },
      this.clock.now(),
      this.callsPaused,
      frame.responseHeaders === true,
    );
    this.streams.set(id, stream);
    this.hooks.onStreamOpened?.(method.name);
  }
}
