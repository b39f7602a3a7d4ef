/**
 * RouteChat over a shared v2 socket: `routeChatOverV2(client)` is a transport for RouteChatSocket
 * whose streams are each one `routeguide.RouteGuide/RouteChat` bidi call of `client`. Notes go out
 * as the call's messages (written once, by the client), replies come back as the client parsed
 * them, error frames keep v2's reasons, and the socket is the client's: it connects, backs off and
 * reconnects for every call on it, RouteChat's included. So a page has one reconnect loop for its
 * socket, and RouteChatSocket only decides about streams (the core down, a gateway draining).
 *
 * One v1 fact has no v2 frame: a gateway going away. v1 closes 1001 after the status; v2 ends a
 * bidi stream the client had not half-closed with OK, then closes the socket once no stream is
 * left. An OK status before our `end` can only be that (the core ends RouteChat only after the
 * client's end), so it is reported as v1 reports a drain: close code 1001, retried.
 */
import { CloseCode, closeCodeForStatus, closeReasonForStatus } from '../../protocol/common/close-codes.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';
import { noteFrameSchema } from '../../protocol/v1/frames.js';
import { type ErrorFrameV2, V2_SUBPROTOCOL } from '../../protocol/v2/index.js';
import type { Call, CallEnding, CallObserver } from './call-record.js';
import { localStatus } from './close-status.js';
import { type GatewayClient, type MethodMap, openObservedCall } from './gateway-client.js';
import type { NoteStream, NoteStreamReport, NoteTransport, OutgoingFrame } from './note-transport.js';
import { isRetryable } from './reconnect.js';
import type { LinkEnding } from './reconnecting-core.js';

export const ROUTECHAT_METHOD = 'routeguide.RouteGuide/RouteChat';

/** A method map that has RouteChat (RouteGuideMethods, or a page's own map that adds it). */
export type WithRouteChat = MethodMap & {
  'routeguide.RouteGuide/RouteChat': { request: unknown; response: unknown };
};

/** `sendRaw` over v2: a frame is the client's to write, so the text's JSON value is the message. */
function rawMessage(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: sent as a JSON string, which the gateway refuses as an invalid message.
    return text;
  }
}

/** The stream's end in the terms RouteChatSocket's outcome and retry rules use. */
function streamEnding(
  status: CallStatus,
  ending: CallEnding,
  stream: { readonly halfClosed: boolean; readonly onWire: boolean },
): LinkEnding {
  if (ending.by === 'gateway') {
    const drained = status.code === StatusCode.OK && !stream.halfClosed;
    return {
      status,
      statusFrame: true,
      opened: true,
      closeCode: drained ? CloseCode.GOING_AWAY : closeCodeForStatus(status.code),
      closeReason: drained ? 'gateway shutting down' : closeReasonForStatus(status.code),
    };
  }
  if (ending.by === 'socket') {
    const { socket } = ending;
    return {
      status,
      statusFrame: false,
      opened: ending.onWire,
      closeCode: socket.closeCode,
      closeReason: socket.closeReason,
      httpStatus: socket.httpStatus,
      // The client reconnects for the next stream when its socket broke the way restarts do; a
      // socket it could not get, or one closed for good reasons, ends the session too.
      carrier: ending.onWire && isRetryable(socket) ? 'lost' : 'gave-up',
    };
  }
  const cancelled = status.code === StatusCode.CANCELLED;
  return {
    status,
    statusFrame: false,
    opened: stream.onWire,
    closeCode: cancelled ? CloseCode.NORMAL : closeCodeForStatus(status.code),
    closeReason: cancelled ? 'client closed' : closeReasonForStatus(status.code),
  };
}

export function routeChatOverV2<M extends WithRouteChat>(
  client: GatewayClient<M>,
): NoteTransport<ErrorFrameV2> {
  return {
    // The client's own token goes with its socket.
    token: undefined,
    open(_token, report: NoteStreamReport<ErrorFrameV2>, metadata): NoteStream {
      const stream = { halfClosed: false, onWire: false, over: false };
      /** Set when this side ends the stream: its status, not the client's "cancelled by the client". */
      let ownStatus: CallStatus | undefined;
      let forgetClientState: (() => void) | undefined;
      let call: Call<unknown, unknown> | undefined;
      const end = (status: CallStatus) => {
        ownStatus ??= status;
        call?.cancel();
      };
      const observer: CallObserver = {
        opened() {
          stream.onWire = true;
          forgetClientState?.();
          report.opened(V2_SUBPROTOCOL);
        },
        message(message) {
          if (stream.over) return;
          const note = noteFrameSchema.safeParse(message);
          if (note.success) report.note(note.data);
          else
            end(localStatus(StatusCode.INTERNAL, 'the gateway sent a note outside the RouteChat contract'));
        },
        rejected: (frame) => report.rejected(frame),
        ended(status, ending) {
          stream.over = true;
          forgetClientState?.();
          report.ended(streamEnding(ownStatus ?? status, ending, stream));
        },
      };
      const opened = openObservedCall(client, ROUTECHAT_METHOD, observer, metadata);
      call = opened;
      if (!stream.onWire && !stream.over) {
        // While the call waits for the client's socket, the client's connecting and backoff are
        // this stream's: one loop, shown once.
        const forward = (state: GatewayClient<M>['state']) => {
          if (state.name === 'connecting' || state.name === 'reconnecting') report.waiting(state);
        };
        forward(client.state);
        forgetClientState = client.on('state', forward);
      }
      return {
        protocol: V2_SUBPROTOCOL,
        bufferedAmount: 0,
        get writable() {
          return stream.onWire && !stream.over;
        },
        write(frame: OutgoingFrame) {
          if (frame.kind === 'end') {
            stream.halfClosed = true;
            opened.end();
          } else opened.send(frame.kind === 'note' ? frame.note : rawMessage(frame.text));
        },
        cancel: end,
        close() {
          stream.over = true;
          forgetClientState?.();
          opened.cancel();
        },
      };
    },
  };
}
