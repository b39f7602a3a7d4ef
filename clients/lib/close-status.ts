/**
 * The final status of a stream that ended without a status frame: derived from the close code, the
 * close reason and, for a refused handshake, the HTTP status the WebSocket library reported.
 * Pure: the rules get unit tests, the socket applies them.
 */
import { CloseCode, statusForCloseCode } from '../../protocol/common/close-codes.js';
import { type CallStatus, StatusCode, statusName } from '../../protocol/common/status.js';

/**
 * A status built on this side, not sent in a status frame: derived from a close, or decided here
 * (closed by the client, a timeout, a frame outside the contract).
 */
export const localStatus = (code: StatusCode, message: string): CallStatus => ({
  code,
  name: statusName(code),
  message,
  metadata: {},
});

/** gRPC's own HTTP → status mapping (doc/http-grpc-status-mapping.md), for refused upgrades. */
export function statusForHttpStatus(httpStatus: number): StatusCode {
  switch (httpStatus) {
    case 400:
      return StatusCode.INTERNAL;
    case 401:
      return StatusCode.UNAUTHENTICATED;
    case 403:
      return StatusCode.PERMISSION_DENIED;
    case 404:
      return StatusCode.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return StatusCode.UNAVAILABLE;
    default:
      return StatusCode.UNKNOWN;
  }
}

/** Codes that mean the connection, not the call, failed: worth a reconnect. */
const TRANSPORT_CLOSE_CODES = new Set([
  CloseCode.GOING_AWAY,
  1005, // no status received
  1006, // abnormal closure: refused, reset, or never opened
  1012, // service restart
  1013, // try again later
  1014, // bad gateway
]);

/** Why an upgrade was refused, in words a person can act on. */
const REFUSAL_HINTS: Readonly<Record<number, string>> = {
  400: 'the gateway refused the request',
  401: 'the token was refused',
  403: 'this origin or token is not allowed',
  404: 'no WebSocket endpoint at this URL: check the path (/v1/routechat)',
  426: 'not a WebSocket endpoint',
  429: 'too many connections: try again later',
  // From a gateway (shutting down, overloaded) or from its proxy while no gateway is ready, which
  // is what a deployment shows while no core serves (its note store down, say): /readyz says why.
  503: 'no gateway is ready to take the connection now: shutting down, overloaded, or no core serving behind it',
};

function refusedUpgrade(httpStatus: number): CallStatus {
  const hint = REFUSAL_HINTS[httpStatus];
  return localStatus(
    statusForHttpStatus(httpStatus),
    `upgrade refused: HTTP ${httpStatus}${hint ? ` (${hint})` : ''}`,
  );
}

export interface ClosedWithoutStatus {
  readonly closeCode: number;
  readonly closeReason: string;
  /** The WebSocket 'error' event's message, when the runtime gives one (ws does, browsers do not). */
  readonly transportError?: string | undefined;
  /** The HTTP status of a refused upgrade, when the runtime exposes the response (ws does). */
  readonly httpStatus?: number | undefined;
}

export function statusForClose({
  closeCode,
  closeReason,
  transportError,
  httpStatus,
}: ClosedWithoutStatus): CallStatus {
  if (httpStatus !== undefined) return refusedUpgrade(httpStatus);
  const fromCode = statusForCloseCode(closeCode);
  if (fromCode !== undefined) return localStatus(fromCode, closeReason);
  // ws reports a refused upgrade as "Unexpected server response: 403".
  const http = transportError ? /server response: (\d{3})/.exec(transportError) : null;
  if (http?.[1]) return refusedUpgrade(Number(http[1]));
  const detail = closeReason || transportError || `connection closed with code ${closeCode}`;
  if (TRANSPORT_CLOSE_CODES.has(closeCode)) return localStatus(StatusCode.UNAVAILABLE, detail);
  if (closeCode === CloseCode.MESSAGE_TOO_BIG) return localStatus(StatusCode.RESOURCE_EXHAUSTED, detail);
  return localStatus(StatusCode.UNKNOWN, detail);
}
