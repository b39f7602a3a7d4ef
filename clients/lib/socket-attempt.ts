/**
 * One connection attempt: a WebSocket, its handshake timeout, and how it ended (the status derived
 * from the close, the HTTP status and Retry-After of a refused upgrade). The reconnecting core
 * dials one per attempt for GatewayClient and for RouteChat over v1; nothing here retries.
 */
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';
import type { Clock } from './clock.js';
import { localStatus, statusForClose } from './close-status.js';
import { parseRetryAfter } from './reconnect.js';
import type { LinkEnding } from './reconnecting-core.js';
import type { WebSocketConstructor, WebSocketLike } from './web-socket-like.js';

export interface AttemptOptions {
  readonly url: string;
  readonly protocols: readonly string[];
  readonly WebSocket: WebSocketConstructor;
  readonly clock: Clock;
  readonly handshakeTimeoutMs: number;
  /**
   * The subprotocol the server must select. Another one (a WebSocket that does not check what it
   * offered) fails the attempt with UNIMPLEMENTED before it counts as open: nothing is sent on it.
   */
  readonly requiredProtocol?: string;
  onOpen(socket: WebSocketLike): void;
  onMessage(data: unknown): void;
  /**
   * Once, whatever ended the attempt. The status is the one given to `fail`, else derived from the
   * close; status frames are the caller's business (a caller that read one prefers it).
   */
  onClose(ending: LinkEnding): void;
}

export interface Attempt {
  readonly socket: WebSocketLike;
  /** Closes the socket; `status` becomes the attempt's status (unless the close already began). */
  fail(status: CallStatus, closeCode?: number, closeReason?: string): void;
  /** For good: stops listening (no callback fires after this) and closes the socket. */
  close(): void;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;

/** ws (Node) reports a refused upgrade through this event, with the response's headers. */
interface UpgradeResponseSource {
  on(
    event: 'unexpected-response',
    listener: (request: unknown, response: { statusCode?: number; headers: Record<string, unknown> }) => void,
  ): unknown;
}
const hasUpgradeResponse = (socket: object): socket is UpgradeResponseSource =>
  typeof (socket as { on?: unknown }).on === 'function';

/** Throws what the WebSocket constructor throws (a malformed URL). */
export function startAttempt(options: AttemptOptions): Attempt {
  const { clock } = options;
  const socket = new options.WebSocket(options.url, [...options.protocols]);
  // Browsers default to Blob (read asynchronously, out of order with text frames), ws to Buffer.
  socket.binaryType = 'arraybuffer';
  let live = true;
  let opened = false;
  let transportError: string | undefined;
  let httpStatus: number | undefined;
  let retryAfterMs: number | undefined;
  let handshakeTimedOut = false;
  let failure: CallStatus | undefined;
  socket.addEventListener('error', (event) => {
    const message = (event as { message?: unknown }).message;
    transportError = typeof message === 'string' ? message : 'WebSocket error';
  });
  if (hasUpgradeResponse(socket)) {
    // With a listener, ws leaves the refused handshake to us: note the status, then abort.
    socket.on('unexpected-response', (_request, response) => {
      httpStatus = response.statusCode;
      const retryAfter = response.headers['retry-after'];
      retryAfterMs = parseRetryAfter(typeof retryAfter === 'string' ? retryAfter : undefined, clock.now());
      socket.close();
    });
  }
  let handshakeTimer: unknown = clock.setTimeout(() => {
    handshakeTimer = undefined;
    handshakeTimedOut = true;
    socket.close();
  }, options.handshakeTimeoutMs);
  const clearHandshake = () => {
    if (handshakeTimer !== undefined) clock.clearTimeout(handshakeTimer);
    handshakeTimer = undefined;
  };
  socket.addEventListener('open', () => {
    if (!live) return;
    clearHandshake();
    const required = options.requiredProtocol;
    if (required !== undefined && socket.protocol !== required) {
      failure ??= localStatus(
        StatusCode.UNIMPLEMENTED,
        `the gateway did not select ${required} (it selected ${JSON.stringify(socket.protocol)})`,
      );
      socket.close(1002, 'subprotocol not selected');
      return;
    }
    opened = true;
    options.onOpen(socket);
  });
  socket.addEventListener('message', (event) => {
    if (live) options.onMessage(event.data);
  });
  socket.addEventListener('close', (event) => {
    if (!live) return;
    live = false;
    clearHandshake();
    const timedOut = handshakeTimedOut && httpStatus === undefined;
    const status =
      failure ??
      (timedOut
        ? localStatus(
            StatusCode.DEADLINE_EXCEEDED,
            `no WebSocket handshake answer within ${options.handshakeTimeoutMs} ms`,
          )
        : statusForClose({ closeCode: event.code, closeReason: event.reason, transportError, httpStatus }));
    options.onClose({
      status,
      closeCode: event.code,
      closeReason: event.reason,
      statusFrame: false,
      opened,
      handshakeTimedOut: timedOut,
      ...(httpStatus === undefined ? {} : { httpStatus }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  });
  return {
    socket,
    fail(status, closeCode = 1000, closeReason) {
      failure ??= status;
      if (socket.readyState < CLOSING) socket.close(closeCode, closeReason);
    },
    close() {
      live = false;
      clearHandshake();
      if (socket.readyState === OPEN) socket.close(1000, 'client closed');
      // Still connecting: closing aborts the handshake (browsers and ws both allow it).
      else if (socket.readyState === CONNECTING) socket.close();
    },
  };
}
