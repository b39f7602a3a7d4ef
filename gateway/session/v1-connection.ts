/**
 * Protocol v1 as a profile of the one socket connection (connection.ts): the socket is one
 * RouteChat stream, opened with the socket. What v1 says differently on the wire: its frames (a bare
 * note, `end`, error frames without `id`), the status closing the socket (4000 + code, 1001 at
 * shutdown), rejections that do not close the socket while the gateway drains, and backpressure by
 * not reading the socket while the call's write buffer is full, instead of credit frames.
 */
import type { JsonValue } from '@bufbuild/protobuf';
import {
  type CallStatus,
  closeCodeForStatus,
  closeReasonForStatus,
  type ErrorDetail,
  StatusCode,
} from '../../protocol/common/index.js';
import { errorFrame, parseClientFrame, REJECT_REASONS, type RejectReason } from '../../protocol/v1/index.js';
import type { ServerFrameV2 } from '../../protocol/v2/index.js';
import type { MethodInfo } from '../methods/method-registry.js';
import type { CallOpener } from '../upstream/calls.js';
import { gatewayStatus } from '../upstream/core-status.js';
import {
  type ConnectionHooks,
  type ConnectionOutcome,
  type Ending,
  SHUTDOWN_ENDING,
  SocketConnection,
  type SocketLimits,
} from './connection.js';
import { type Clock, type ConnectionMachine, type ConnectionSocket, systemClock } from './ports.js';
import { createStream, NUMBERED_REFUSAL, type Stream, type StreamSink } from './stream.js';

/** v1's socket limits: its rejection budget is `--max-rejected-frames`, and it has no slow-reader timeout. */
export type V1Limits = Omit<SocketLimits, 'maxSocketRejections' | 'slowReaderTimeoutMs'> & {
  readonly maxRejectedFrames: number;
};

/** v1's outcome: framesOut counts the notes sent, as it always has. */
export type V1Outcome = ConnectionOutcome;

export interface V1Hooks extends ConnectionHooks<RejectReason> {
  onNoteForwarded?(): void;
  /** Seconds from a note's arrival to its hand-off to the core (only when given). */
  onRelayLatency?(seconds: number): void;
}

export interface V1Deps {
  /** RouteChat with v1's codec (methods/routechat-v1.ts). */
  readonly method: MethodInfo;
  readonly upstream: CallOpener;
  /** The call's metadata (forwarded headers, the upgrade's token). */
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * The call carries a producer session (note-session): the core numbers its notes as they arrive,
   * so a note refused here would shift the number of every later one. The first refused note
   * frame ends the stream instead; the client reopens from its first unconfirmed note.
   */
  readonly numbered?: boolean;
}

export interface V1Connection extends ConnectionMachine {
  readonly state: 'open' | 'half-closed' | 'draining' | 'closed';
  closeForPolicy(code: StatusCode, message: string): void;
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

/** It is its one stream's sink. */
class V1SocketConnection extends SocketConnection<RejectReason> implements V1Connection, StreamSink {
  protected readonly holdsReadingOverMark = false;
  protected readonly rejectionsCloseWhileDraining = false;
  readonly #stream: Stream;
  readonly #numbered: boolean;
  // The base class holds them; this only narrows their type to v1's.
  declare protected readonly hooks: V1Hooks;

  constructor(socket: ConnectionSocket, deps: V1Deps, limits: V1Limits, hooks: V1Hooks, clock: Clock) {
    super(
      socket,
      { ...limits, maxSocketRejections: limits.maxRejectedFrames, slowReaderTimeoutMs: 0 },
      hooks,
      clock,
    );
    this.#numbered = deps.numbered ?? false;
    this.#stream = createStream(
      '',
      deps.method,
      (handlers) => deps.upstream.open(deps.method, deps.metadata, {}, handlers),
      this,
      // No credit frames and no per-stream rejection limit: v1 counts rejections per socket.
      { initialCredit: Number.POSITIVE_INFINITY, maxRejections: Number.POSITIVE_INFINITY },
      this.lastActivity,
    );
    this.streams.set('', this.#stream);
    this.streamsOpened = 1;
  }

  override get state(): V1Connection['state'] {
    if (this.phase !== 'open') return this.phase;
    return this.#stream.state === 'open' ? 'open' : 'half-closed';
  }

  protected onFrame(text: string) {
    const parsed = parseClientFrame(text, this.limits.frame);
    if (parsed.kind === 'rejected') {
      this.reject(JSON.stringify(parsed.error), parsed.error.reason);
      if (this.#numbered && this.#stream.state === 'open')
        this.#stream.abort(
          gatewayStatus(StatusCode[parsed.error.code], `${NUMBERED_REFUSAL}: ${parsed.error.message}`),
        );
      return;
    }
    if (this.phase === 'draining' || this.#stream.state !== 'open') {
      const why =
        this.phase === 'draining' ? 'the gateway is shutting down' : 'the client already sent "end"';
      return this.#rejectV1('after_end', `frame not accepted: ${why}`);
    }
    if (parsed.kind === 'end') return this.#stream.onClientEnd();
    this.hooks.onNoteForwarded?.();
    this.#stream.onClientMessage(parsed.note);
    this.hooks.onRelayLatency?.((this.clock.now() - this.lastActivity) / 1000);
  }

  #rejectV1(reason: RejectReason, message: string, details: ErrorDetail[] = []): void {
    this.reject(JSON.stringify(errorFrame(reason, message, details)), reason);
  }

  protected socketErrorText(reason: 'binary_frame' | 'rate_limited', message: string): string {
    return JSON.stringify(errorFrame(reason, message));
  }

  protected timeoutEnding(): Ending {
    return {
      code: closeCodeForStatus(StatusCode.DEADLINE_EXCEEDED),
      reason: closeReasonForStatus(StatusCode.DEADLINE_EXCEEDED),
      cause: 'timeout',
    };
  }

  /** The one stream's end closes the socket: with the gateway's reason, 1001 while draining, or 4000 + code. */
  protected override afterStreamFinished(_stream: Stream, status: CallStatus): void {
    const ending = this.endingOr(
      this.phase === 'draining'
        ? SHUTDOWN_ENDING
        : {
            code: closeCodeForStatus(status.code),
            reason: closeReasonForStatus(status.code),
            cause: 'status',
          },
    );
    this.closeSocket(ending, status);
  }

  /** The socket is the stream: its lifetime is the socket's, and it ends as a timeout does. */
  override endStreamsOpenedBefore(cutoff: number, message: string): void {
    if (this.#stream.openedAt < cutoff) this.closeForTimeout(message);
  }

  // The stream's output (StreamSink).

  /** A note from the core: v1's frame is the note itself. */
  sendMessage(note: JsonValue): void {
    this.sendText(JSON.stringify(note), true);
    this.hooks.onRelayLatency?.((this.clock.now() - this.lastActivity) / 1000);
  }

  send(frame: ServerFrameV2): void {
    // v1's status frame is v2's without the stream id.
    if (frame.type === 'status') {
      const { id: _id, ...status } = frame;
      this.sendText(JSON.stringify(status));
    } else if (frame.type === 'error')
      this.#rejectV1(toV1Reason(frame.reason), frame.message, frame.details as ErrorDetail[]);
    // Credit frames: v1 has none (its stream has unlimited credit; the socket is held instead).
  }

  finished(stream: Stream, status: CallStatus): void {
    this.streamFinished(stream, status);
  }

  callBlocked(): void {
    this.holdForCall();
  }

  callDrained(): void {
    this.releaseForCall();
  }
}
