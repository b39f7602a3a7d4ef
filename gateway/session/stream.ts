/**
 * One stream: one upstream call of any kind, its state and its flow control. It knows neither
 * ws nor grpc-js: frames go out through `StreamSink`, the call is a `CallPort`. "What happens if X
 * arrives in state Y" for one stream is answered here; socket-level rules live in connection.ts
 * (v2: many streams per socket) and v1-connection.ts (v1: the socket is one RouteChat stream).
 */
import type { JsonValue } from '@bufbuild/protobuf';
import { type CallStatus, type ErrorDetail, StatusCode } from '../../protocol/common/index.js';
import { errorFrameV2, type ServerFrameV2, type V2RejectReason } from '../../protocol/v2/index.js';
import type { ParsedRequest } from '../methods/codec.js';
import type { MethodInfo } from '../methods/method-registry.js';
import type { CallHandlers, CallPort } from '../upstream/calls.js';
import { gatewayStatus } from '../upstream/core-status.js';

export interface StreamSink {
  send(frame: ServerFrameV2): void;
  /** A response message for this stream (the frame most sent: the sink writes its text itself). */
  sendMessage(message: JsonValue): void;
  /**
   * v2's binary encoding: a response message as the core's own bytes, passed on undecoded. A sink
   * that has it gets every response this way (sendMessage is then never called).
   */
  sendMessageBytes?(bytes: Uint8Array): void;
  /** The stream is over (its status was sent, or the socket is gone): forget it. */
  finished(stream: Stream, status: CallStatus): void;
  /** The call's write buffer is full (v1 pauses its socket until `callDrained`; v2 withholds credit). */
  callBlocked?(): void;
  callDrained?(): void;
}

export interface StreamLimits {
  /**
   * Messages the client may send before any credit frame (and the size of the window). Infinity:
   * no credit frames (v1, which holds the client back by pausing its socket instead).
   */
  readonly initialCredit: number;
  /** Rejected frames after which the stream ends with INVALID_ARGUMENT. */
  readonly maxRejections: number;
  /**
   * The call carries a producer session (note-session): the core numbers its messages as they
   * arrive, so one refused here would shift the number of every later one. The first refused
   * message of the open stream ends it instead (the client reopens from its first unconfirmed note).
   */
  readonly numbered?: boolean;
}

/** Why a note-session stream ended at a refused message. */
export const NUMBERED_REFUSAL =
  'a refused note ends a note-session stream (later notes would be misnumbered)';

type StreamState =
  /** Both directions open. */
  | { readonly name: 'open' }
  /** No more client messages: the client sent `end`, the request of a unary method came, or shutdown. */
  | { readonly name: 'half-closed'; readonly by: 'client' | 'request-complete' | 'shutdown' }
  /** The status was sent (or the socket is gone). Nothing more happens. */
  | { readonly name: 'closed' };

export interface Stream {
  readonly id: string;
  readonly method: MethodInfo;
  /** When the stream opened (the connection's clock), for `--max-stream-lifetime`. */
  readonly openedAt: number;
  readonly state: StreamState['name'];
  onClientMessage(json: unknown): void;
  /** A request message as protobuf bytes (v2's binary encoding): checked, then passed on unchanged. */
  onClientMessageBytes(bytes: Uint8Array): void;
  onClientEnd(): void;
  onClientCancel(): void;
  /** A rejected frame of this stream (parsed by the connection). */
  reject(reason: V2RejectReason, message: string, details?: ErrorDetail[]): void;
  /** The socket has too much queued: stop/restart reading this call's responses. */
  pause(): void;
  resume(): void;
  /**
   * Graceful shutdown: half-close the call; the status comes when the call ends. A server-streaming
   * call ends at once with UNAVAILABLE instead.
   */
  beginShutdown(): void;
  /** End the stream now with `status`: cancel the call, send the status (unless `silent`). */
  abort(status: CallStatus, silent?: boolean): void;
}

export function createStream(
  id: string,
  method: MethodInfo,
  openCall: (handlers: CallHandlers) => CallPort,
  sink: StreamSink,
  limits: StreamLimits,
  openedAt: number,
  startPaused = false,
  /** The open asked for the core's response headers (`responseHeaders`): send a `headers` frame. */
  sendHeaders = false,
): Stream {
  return new CallStream(id, method, openCall, sink, limits, openedAt, startPaused, sendHeaders);
}

const OPEN: StreamState = { name: 'open' };
const CLOSED: StreamState = { name: 'closed' };

/**
 * A class, not a closure factory: a gateway holds one per open call (10,000s), and its methods on
 * the prototype instead of ~20 closures per stream measured 2.1 KB less heap per v1 connection
 * (bench/README.md). It is its call's handlers too (`CallHandlers`).
 */
class CallStream implements Stream, CallHandlers {
  #state: StreamState = OPEN;
  /** Messages the client may still send. */
  #credit: number;
  /** Messages taken by the call and not yet given back as credit. */
  #ungranted = 0;
  /** The call's write buffer is full: credit is withheld until it drains. */
  #writeBlocked = false;
  #paused = false;
  #readEnded = false;
  #pendingStatus: CallStatus | undefined;
  #rejections = 0;
  readonly #grantAt: number;
  /** Only for a stream opened with `responseHeaders`: the pool reads the headers only then. */
  readonly onHeaders: ((metadata: Record<string, string>) => void) | undefined;
  readonly #sink: StreamSink;
  readonly #limits: StreamLimits;
  readonly #call: CallPort;

  constructor(
    readonly id: string,
    readonly method: MethodInfo,
    openCall: (handlers: CallHandlers) => CallPort,
    sink: StreamSink,
    limits: StreamLimits,
    readonly openedAt: number,
    startPaused: boolean,
    sendHeaders: boolean,
  ) {
    this.#sink = sink;
    this.#limits = limits;
    this.onHeaders = sendHeaders
      ? (metadata) => {
          if (this.#state.name !== 'closed') this.#sink.send({ type: 'headers', id: this.id, metadata });
        }
      : undefined;
    this.#credit = limits.initialCredit;
    this.#grantAt = Math.max(1, Math.floor(limits.initialCredit / 2));
    this.#call = openCall(this);
    if (startPaused) {
      this.#paused = true;
      this.#call.pause();
    }
  }

  get state(): StreamState['name'] {
    return this.#state.name;
  }

  #finish(status: CallStatus, silent = false) {
    if (this.#state.name === 'closed') return;
    this.#state = CLOSED;
    if (!silent)
      this.#sink.send({
        type: 'status',
        id: this.id,
        code: status.code,
        name: status.name,
        message: status.message,
        metadata: { ...status.metadata },
      });
    this.#sink.finished(this, status);
  }

  #maybeFinishWithCallStatus() {
    if (this.#pendingStatus && this.#readEnded) this.#finish(this.#pendingStatus);
  }

  /** Credit goes back in batches, and only while the call keeps up: that is the flow control. */
  #maybeGrant() {
    if (this.#state.name !== 'open' || this.#writeBlocked || this.#ungranted < this.#grantAt) return;
    this.#credit += this.#ungranted;
    this.#sink.send({ type: 'credit', id: this.id, messages: this.#ungranted });
    this.#ungranted = 0;
  }

  // The call's events (CallHandlers).

  onMessage(bytes: Uint8Array): void {
    if (this.#state.name === 'closed') return;
    if (this.#sink.sendMessageBytes) {
      this.#sink.sendMessageBytes(bytes);
      return;
    }
    let message: JsonValue;
    try {
      message = this.method.codec.responseToJson(bytes);
    } catch {
      this.#call.cancel();
      this.#finish(gatewayStatus(StatusCode.INTERNAL, 'the core sent a message that does not decode'));
      return;
    }
    this.#sink.sendMessage(message);
  }

  onReadEnd(): void {
    this.#readEnded = true;
    this.#maybeFinishWithCallStatus();
  }

  onStatus(status: CallStatus): void {
    if (this.#state.name === 'closed' || this.#pendingStatus) return;
    this.#pendingStatus = status;
    this.#maybeFinishWithCallStatus();
  }

  onDrain(): void {
    this.#writeBlocked = false;
    this.#sink.callDrained?.();
    this.#maybeGrant();
  }

  // The client's frames, as the connection routed them (Stream).

  reject(reason: V2RejectReason, message: string, details: ErrorDetail[] = []): void {
    if (this.#state.name === 'closed') return;
    this.#rejections += 1;
    const error = errorFrameV2(reason, message, details, this.id);
    this.#sink.send(error);
    if (this.#limits.numbered && this.#state.name === 'open') {
      this.#call.cancel();
      this.#finish(gatewayStatus(StatusCode[error.code], `${NUMBERED_REFUSAL}: ${message}`));
      return;
    }
    if (this.#rejections >= this.#limits.maxRejections) {
      this.#call.cancel();
      // The last rejection's code: flooding a stalled call is RESOURCE_EXHAUSTED, bad input INVALID_ARGUMENT.
      this.#finish(
        gatewayStatus(
          StatusCode[error.code],
          `too many rejected frames on this stream (${this.#rejections})`,
        ),
      );
    }
  }

  onClientMessage(json: unknown): void {
    if (this.#admitMessage()) this.#forward(this.method.codec.parseRequest(json));
  }

  onClientMessageBytes(bytes: Uint8Array): void {
    if (this.#admitMessage()) this.#forward(this.method.codec.checkRequestBytes(bytes));
  }

  /**
   * Whether a client message may be read now (open, with credit): it then uses one credit, which
   * comes back like any other even when the message is refused. Otherwise it is rejected here.
   */
  #admitMessage(): boolean {
    const state = this.#state;
    if (state.name === 'closed') return false;
    if (state.name === 'half-closed') {
      const why =
        state.by === 'shutdown'
          ? 'the gateway is shutting down'
          : state.by === 'client'
            ? 'the client already sent "end"'
            : `${this.method.name} takes one request message`;
      this.reject('after_end', `message not accepted: ${why}`);
      return false;
    }
    if (this.#credit === 0) {
      this.reject('no_credit', 'message sent without credit: wait for a credit frame', [
        { path: 'id', message: 'no credit left on this stream' },
      ]);
      return false;
    }
    this.#credit -= 1;
    this.#ungranted += 1;
    return true;
  }

  /** An admitted message, checked: refused (the stream goes on), or written to the call. */
  #forward(parsed: ParsedRequest): void {
    if (!parsed.ok) {
      this.reject(
        parsed.reason,
        parsed.message,
        parsed.details.map((d) => ({ ...d, path: d.path ? `message.${d.path}` : 'message' })),
      );
      this.#maybeGrant();
      return;
    }
    if (!this.#call.write(parsed.bytes)) {
      this.#writeBlocked = true;
      this.#sink.callBlocked?.();
    }
    if (!this.method.requestStream) {
      this.#state = { name: 'half-closed', by: 'request-complete' };
      this.#call.end();
      return;
    }
    this.#maybeGrant();
  }

  onClientEnd(): void {
    const state = this.#state;
    if (state.name === 'closed') return;
    if (state.name === 'half-closed') {
      if (state.by === 'client') this.reject('after_end', 'the client already sent "end"');
      return;
    }
    this.#state = { name: 'half-closed', by: 'client' };
    this.#call.end();
  }

  onClientCancel(): void {
    if (this.#state.name === 'closed') return;
    this.#call.cancel();
    this.#finish(gatewayStatus(StatusCode.CANCELLED, 'cancelled by the client'));
  }

  pause(): void {
    if (this.#paused || this.#state.name === 'closed') return;
    this.#paused = true;
    this.#call.pause();
  }

  resume(): void {
    if (!this.#paused || this.#state.name === 'closed') return;
    this.#paused = false;
    this.#call.resume();
  }

  beginShutdown(): void {
    if (this.#state.name === 'closed') return;
    // A server stream owes the client no end of its own (a Watch never ends): waiting would hold
    // the drain for the whole grace. It ends now, UNAVAILABLE, so the client re-opens it elsewhere.
    if (this.method.responseStream && !this.method.requestStream) {
      this.#call.cancel();
      this.#finish(gatewayStatus(StatusCode.UNAVAILABLE, 'gateway shutting down'));
      return;
    }
    if (this.#state.name !== 'open') return;
    this.#state = { name: 'half-closed', by: 'shutdown' };
    this.#call.end();
  }

  abort(status: CallStatus, silent = false): void {
    if (this.#state.name === 'closed') return;
    this.#call.cancel();
    this.#finish(status, silent);
  }
}
