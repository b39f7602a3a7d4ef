/**
 * RouteChat over protocol v1: each stream is a WebSocket of its own (`/v1/routechat`, subprotocol
 * `routechat.v1`). Frames are read with the v1 schemas; the stream's status is its status frame,
 * else the one derived from the close (socket-attempt.ts).
 */
import { closeCodeForStatus } from '../../protocol/common/close-codes.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';
import { type ErrorFrame, SUBPROTOCOL, serverFrameSchema } from '../../protocol/v1/frames.js';
import type { Clock } from './clock.js';
import { localStatus } from './close-status.js';
import type { NoteStream, NoteTransport, OutgoingFrame } from './note-transport.js';
import { readServerFrame } from './server-frame.js';
import { startAttempt } from './socket-attempt.js';
import { bearerSubprotocol, type TokenSource } from './token.js';
import type { WebSocketConstructor } from './web-socket-like.js';

export interface V1NoteTransportOptions {
  readonly url: string;
  readonly WebSocket: WebSocketConstructor;
  readonly token: TokenSource | undefined;
  readonly handshakeTimeoutMs: number;
  readonly clock: Clock;
}

const OPEN = 1;
const CLOSED = 3;
const END_FRAME = JSON.stringify({ type: 'end' });

const frameText = (frame: OutgoingFrame): string =>
  frame.kind === 'note' ? JSON.stringify(frame.note) : frame.kind === 'raw' ? frame.text : END_FRAME;

/** v1 carries a stream's metadata (the producer session) in the upgrade URL's query. */
function withQuery(url: string, metadata: Readonly<Record<string, string>> | undefined): string {
  if (!metadata || Object.keys(metadata).length === 0) return url;
  const withParams = new URL(url);
  for (const [key, value] of Object.entries(metadata)) withParams.searchParams.set(key, value);
  return withParams.href;
}

export function createV1NoteTransport(options: V1NoteTransportOptions): NoteTransport<ErrorFrame> {
  return {
    token: options.token,
    open(token, report, metadata): NoteStream {
      /** The gateway's status frame: the last word on this stream, whatever the close says. */
      let statusFrame: CallStatus | undefined;
      /** The gateway broke the contract: nothing more is read. */
      let faulted = false;
      let opened = false;
      const attempt = startAttempt({
        url: withQuery(options.url, metadata),
        protocols: [SUBPROTOCOL, ...(token === undefined ? [] : [bearerSubprotocol(token)])],
        WebSocket: options.WebSocket,
        clock: options.clock,
        handshakeTimeoutMs: options.handshakeTimeoutMs,
        onOpen: (socket) => {
          opened = true;
          report.opened(socket.protocol);
        },
        onMessage: (data) => {
          if (statusFrame || faulted) return;
          const frame = readServerFrame(serverFrameSchema, data);
          if (!frame) {
            faulted = true;
            const status = localStatus(
              StatusCode.INTERNAL,
              'the gateway sent a frame outside the v1 contract',
            );
            attempt.fail(status, closeCodeForStatus(StatusCode.INTERNAL), 'invalid frame');
          } else if (!('type' in frame)) report.note(frame);
          else if (frame.type === 'error') report.rejected(frame);
          else {
            const { type: _type, ...status } = frame;
            // The number and the name come from the same frame; the schema checked both are in range.
            statusFrame = status as CallStatus;
          }
        },
        onClose: (ending) =>
          report.ended(statusFrame ? { ...ending, status: statusFrame, statusFrame: true } : ending),
      });
      return {
        get protocol() {
          return attempt.socket.protocol;
        },
        get bufferedAmount() {
          return attempt.socket.bufferedAmount;
        },
        get writable() {
          return attempt.socket.readyState === OPEN;
        },
        write: (frame) => attempt.socket.send(frameText(frame)),
        cancel(status) {
          if (attempt.socket.readyState !== CLOSED) {
            // The close event ends the stream (a socket already closing just gets there).
            attempt.fail(status, 1000, 'client closed');
            return;
          }
          // Closed, its close event still on its way (runtimes set CLOSED first): over now.
          attempt.close();
          report.ended({
            status: statusFrame ?? status,
            closeCode: 1000,
            closeReason: '',
            statusFrame: statusFrame !== undefined,
            opened,
          });
        },
        close: () => attempt.close(),
      };
    },
  };
}
