/**
 * Pure rules for the statuses a v2 stream reports. A status the server sent is passed on; one
 * made by the transport (grpc-js: connection refused, dropped, RST_STREAM, local deadline…) gets
 * a plain message instead of library internals (addresses, stack-ish text). A cancellation the
 * client did not ask for is the core going away: UNAVAILABLE. Trailers lose transport keys.
 */
import {
  type CallStatus,
  StatusCode,
  type StatusCode as StatusCodeType,
  statusName,
  trailerMetadata,
} from '../../protocol/index.js';

/** Messages grpc-js makes itself (not from the server), by pattern. */
const TRANSPORT_MESSAGES = [
  /^No connection established/,
  /Connection dropped/,
  /^Received RST_STREAM/,
  /^Deadline exceeded/,
  /^Cancelled on client/,
  /^Call cancelled/,
  /^Failed to /,
  /^Protocol error/,
  /^Received message larger than max/,
  /^Sent message larger than max/,
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|getaddrinfo|name resolution/i,
  /^Stream refused/,
  /^Server Error$/,
  /^Waiting for LB pick/,
  /^Request message serialization failure/,
  /^Response message parsing error/,
];

/** The plain message of a status the gateway or the transport made. */
export const PLAIN_MESSAGES: Readonly<Partial<Record<StatusCodeType, string>>> = {
  [StatusCode.UNAVAILABLE]: 'core unavailable',
  [StatusCode.DEADLINE_EXCEEDED]: 'deadline exceeded',
  [StatusCode.CANCELLED]: 'cancelled',
  [StatusCode.INTERNAL]: 'core connection failed',
  [StatusCode.RESOURCE_EXHAUSTED]: 'message over the size limit',
  [StatusCode.UNKNOWN]: 'unknown error',
};

export const isTransportMessage = (message: string): boolean =>
  TRANSPORT_MESSAGES.some((re) => re.test(message));

export const gatewayStatus = (
  code: StatusCodeType,
  message: string,
  metadata: Record<string, string> = {},
): CallStatus => ({
  code,
  name: statusName(code),
  message,
  metadata,
});

/**
 * The status a stream reports for an upstream status. `clientCancelled`: the client sent `cancel`
 * (its stream then reports CANCELLED; any other CANCELLED is the core's doing).
 */
export function streamStatusFor(status: CallStatus, clientCancelled: boolean): CallStatus {
  const metadata = trailerMetadata(status.metadata);
  if (status.code === StatusCode.CANCELLED && !clientCancelled)
    return gatewayStatus(StatusCode.UNAVAILABLE, 'core cancelled the call', metadata);
  if (status.code !== StatusCode.OK && isTransportMessage(status.message))
    return gatewayStatus(
      status.code,
      PLAIN_MESSAGES[status.code] ?? statusName(status.code).toLowerCase(),
      metadata,
    );
  return { ...status, metadata };
}
