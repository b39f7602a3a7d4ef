/**
 * A call's final status as the gateway received it → the status a client sees, for v1 and v2 alike.
 * Pure: upstream/channel-pool.ts (the only module that knows grpc-js) says where the status came
 * from; the rules live here.
 *
 * - Only the core application's own messages reach clients. A status that the transport made up
 *   (grpc-js: "No connection established. Last error: Error: connect ECONNREFUSED 10.0.0.7:50051…",
 *   "Connection dropped", "Received RST_STREAM…", a local deadline) names internal addresses and
 *   library internals: the client gets a stable, plain message and the detail goes to the log.
 * - CANCELLED means "the caller cancelled", and by convention it is not retried. The gateway never
 *   reports it for a call the client did not cancel: a core that goes away (drained, killed, reset)
 *   is UNAVAILABLE, which clients retry. (A cancel the client asked for never reaches these rules:
 *   the gateway cancels the call and reports CANCELLED itself.)
 * - The status metadata is the call's trailers without the transport keys (protocol/common/metadata.ts);
 *   a status the transport made has no trailers at all.
 */
import { type CallStatus, StatusCode, statusName, trailerMetadata } from '../../protocol/common/index.js';

export interface ReceivedStatus {
  readonly code: number;
  readonly details: string;
  /** Every key and value of the status's metadata (binary values base64-encoded). */
  readonly metadata: Readonly<Record<string, string>>;
  /** true when the status came from the core in its trailers, false when the transport made it. */
  readonly fromCore: boolean;
}

export interface ClientStatus {
  readonly status: CallStatus;
  /** The text the client does not get (transport detail), for the log; absent when nothing was hidden. */
  readonly hiddenDetail?: string;
}

/** The plain message for a status the transport produced, by code. */
export const TRANSPORT_MESSAGES: Readonly<Partial<Record<StatusCode, string>>> = {
  [StatusCode.UNAVAILABLE]: 'core unavailable',
  [StatusCode.DEADLINE_EXCEEDED]: 'deadline exceeded',
  [StatusCode.RESOURCE_EXHAUSTED]: 'a message exceeds the gateway size limit to the core',
};
const TRANSPORT_MESSAGE_DEFAULT = 'call to the core failed';

/** A status the gateway itself decided (shutdown, policy, timeout, a refused stream…). */
export const gatewayStatus = (
  code: StatusCode,
  message: string,
  metadata: Readonly<Record<string, string>> = {},
): CallStatus => ({ code, name: statusName(code), message, metadata });

export function toClientStatus(received: ReceivedStatus): ClientStatus {
  const code = (statusName(received.code) === 'UNKNOWN' ? StatusCode.UNKNOWN : received.code) as StatusCode;
  const metadata = received.fromCore ? trailerMetadata(received.metadata) : {};
  // grpc-js reports a missing grpc-message on OK as "OK"; the contract sends "" then.
  const details = code === StatusCode.OK && received.details === 'OK' ? '' : received.details;
  if (code === StatusCode.CANCELLED) {
    return {
      status: { code: StatusCode.UNAVAILABLE, name: 'UNAVAILABLE', message: 'core unavailable', metadata },
      hiddenDetail: `CANCELLED by the ${received.fromCore ? 'core' : 'transport'}: ${details}`,
    };
  }
  if (received.fromCore || code === StatusCode.OK) {
    return { status: { code, name: statusName(code), message: details, metadata } };
  }
  return {
    status: {
      code,
      name: statusName(code),
      message: TRANSPORT_MESSAGES[code] ?? TRANSPORT_MESSAGE_DEFAULT,
      metadata,
    },
    hiddenDetail: details,
  };
}
