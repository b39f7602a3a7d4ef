/**
 * One stream: one upstream call of any kind, its state and its flow control. It knows neither
 * ws nor grpc-js: frames go out through `StreamSink`, the call is a `CallPort`. "What happens if X
 * arrives in state Y" for one stream is answered here; socket-level rules live in connection.ts
 * (v2: many streams per socket) and v1-connection.ts (v1: the socket is one RouteChat stream).
 */
import type { JsonValue } from '@bufbuild/protobuf';
import { type CallStatus, type ErrorDetail, StatusCode } from '../../protocol/index.js';
import { errorFrameV2, type ServerFrameV2, type V2RejectReason } from '../../protocol/v2/index.js';
import { gatewayStatus } from '../core-status.js';
import type { MethodInfo } from '../methods/method-registry.js';
import type { CallHandlers, CallPort } from './ports.js';

export interface StreamSink {
  send(frame: ServerFrameV2): void;
  /** A response message for this stream (the frame most sent: the sink writes its text itself). */
  sendMessage(message: JsonValue): void;
  /** The stream is over (its status was sent, or the socket is gone): forget it. */
  finished(stream: Stream, status: CallStatus): void;
}

export interface StreamLimits {
  /**
   * Messages the client may send before any credit frame (and the size of the window). Infinity:
   * no credit frames (v1, which holds the client back by pausing its socket instead).
   */
  readonly initialCredit: number;
  /** Rejected frames after which the stream ends with INVALID_ARGUMENT. */
  readonly maxRejections: number;
}

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
  readonly state: StreamState['name'];
  onClientMessage(json: unknown): void;
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
  startPaused = false,
): Stream {
  let state: StreamState = { name: 'open' };
  /** Messages the client may still send. */
  let credit = limits.initialCredit;
  /** Messages taken by the call and not yet given back as credit. */
  let ungranted = 0;
  /** The call's write buffer is full: credit is withheld until it drains. */
  let writeBlocked = false;
  let paused = false;
  let readEnded = false;
  let pendingStatus: CallStatus | undefined;
  let rejections = 0;
  const grantAt = Math.max(1, Math.floor(limits.initialCredit / 2));

  const finish = (status: CallStatus, silent = false) => {
    if (state.name === 'closed') return;
    state = { name: 'closed' };
    if (!silent)
      sink.send({
        type: 'status',
        id,
        code: status.code,
        name: status.name,
        message: status.message,
        metadata: { ...status.metadata },
      });
    sink.finished(stream, status);
  };

  const maybeFinishWithCallStatus = () => {
    if (pendingStatus && readEnded) finish(pendingStatus);
  };

  /** Credit goes back in batches, and only while the call keeps up: that is the flow control. */
  const maybeGrant = () => {
    if (state.name !== 'open' || writeBlocked || ungranted < grantAt) return;
    credit += ungranted;
    sink.send({ type: 'credit', id, messages: ungranted });
    ungranted = 0;
  };

  const handlers: CallHandlers = {
    onMessage(bytes) {
      if (state.name === 'closed') return;
      let message: JsonValue;
      try {
        message = method.codec.responseToJson(bytes);
      } catch {
        call.cancel();
        return finish(gatewayStatus(StatusCode.INTERNAL, 'the core sent a message that does not decode'));
      }
      sink.sendMessage(message);
    },
    onReadEnd() {
      readEnded = true;
      maybeFinishWithCallStatus();
    },
    onStatus(status) {
      if (state.name === 'closed' || pendingStatus) return;
      pendingStatus = status;
      maybeFinishWithCallStatus();
    },
    onDrain() {
      writeBlocked = false;
      maybeGrant();
    },
  };

  function reject(reason: V2RejectReason, message: string, details: ErrorDetail[] = []) {
    if (state.name === 'closed') return;
    rejections += 1;
    const error = errorFrameV2(reason, message, details, id);
    sink.send(error);
    if (rejections >= limits.maxRejections) {
      call.cancel();
      // The last rejection's code: flooding a stalled call is RESOURCE_EXHAUSTED, bad input INVALID_ARGUMENT.
      finish(
        gatewayStatus(StatusCode[error.code], `too many rejected frames on this stream (${rejections})`),
      );
    }
  }

  const call = openCall(handlers);
  if (startPaused) {
    paused = true;
    call.pause();
  }

  const stream: Stream = {
    id,
    method,
    get state() {
      return state.name;
    },

    onClientMessage(json) {
      if (state.name === 'closed') return;
      if (state.name === 'half-closed') {
        const why =
          state.by === 'shutdown'
            ? 'the gateway is shutting down'
            : state.by === 'client'
              ? 'the client already sent "end"'
              : `${method.name} takes one request message`;
        return reject('after_end', `message not accepted: ${why}`);
      }
      if (credit === 0) {
        return reject('no_credit', 'message sent without credit: wait for a credit frame', [
          { path: 'id', message: 'no credit left on this stream' },
        ]);
      }
      credit -= 1;
      const parsed = method.codec.parseRequest(json);
      // A refused message is used up too: its credit comes back like any other.
      ungranted += 1;
      if (!parsed.ok) {
        reject(
          parsed.reason,
          parsed.message,
          parsed.details.map((d) => ({ ...d, path: d.path ? `message.${d.path}` : 'message' })),
        );
        return maybeGrant();
      }
      if (!call.write(parsed.bytes)) writeBlocked = true;
      if (!method.requestStream) {
        state = { name: 'half-closed', by: 'request-complete' };
        call.end();
        return;
      }
      maybeGrant();
    },

    onClientEnd() {
      if (state.name === 'closed') return;
      if (state.name === 'half-closed') {
        if (state.by === 'client') reject('after_end', 'the client already sent "end"');
        return;
      }
      state = { name: 'half-closed', by: 'client' };
      call.end();
    },

    onClientCancel() {
      if (state.name === 'closed') return;
      call.cancel();
      finish(gatewayStatus(StatusCode.CANCELLED, 'cancelled by the client'));
    },

    reject,

    pause() {
      if (paused || state.name === 'closed') return;
      paused = true;
      call.pause();
    },

    resume() {
      if (!paused || state.name === 'closed') return;
      paused = false;
      call.resume();
    },

    beginShutdown() {
      if (state.name === 'closed') return;
      // A server stream owes the client no end of its own (a Watch never ends): waiting would hold
      // the drain for the whole grace. It ends now, UNAVAILABLE, so the client re-opens it elsewhere.
      if (method.responseStream && !method.requestStream) {
        call.cancel();
        finish(gatewayStatus(StatusCode.UNAVAILABLE, 'gateway shutting down'));
        return;
      }
      if (state.name !== 'open') return;
      state = { name: 'half-closed', by: 'shutdown' };
      call.end();
    },

    abort(status, silent = false) {
      if (state.name === 'closed') return;
      call.cancel();
      finish(status, silent);
    },
  };
  return stream;
}
